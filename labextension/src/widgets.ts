/**
 * A widget manager bound to the panel's own kernel, with a rendermime that renders
 * `application/vnd.jupyter.widget-view+json` through it.
 *
 * The widget packages are the lab's own copies (shared singletons, not bundled), so the models
 * and views are the same classes notebooks use. The lab's widget registry is not reachable
 * from outside `@jupyter-widgets/jupyterlab-manager`, so the three core modules are registered
 * here; third-party widget libraries do not render in the panel (the panel needs none).
 */

import * as base from '@jupyter-widgets/base';
import { JUPYTER_CONTROLS_VERSION } from '@jupyter-widgets/controls/lib/version';
import {
  KernelWidgetManager,
  WidgetRenderer,
  output
} from '@jupyter-widgets/jupyterlab-manager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Kernel } from '@jupyterlab/services';

/** The mime type of a displayed ipywidget. */
export const WIDGET_VIEW_MIMETYPE = 'application/vnd.jupyter.widget-view+json';

/** A widget manager and the rendermime registry whose widget renderer uses it. */
export interface IWidgetRendering {
  manager: KernelWidgetManager;
  rendermime: IRenderMimeRegistry;
}

/**
 * Create a widget manager for `kernel` and a clone of the lab's `rendermime` bound to it.
 *
 * Dispose the returned manager when the kernel goes away or restarts.
 */
export function createWidgetRendering(
  kernel: Kernel.IKernelConnection,
  rendermime: IRenderMimeRegistry
): IWidgetRendering {
  const clone = rendermime.clone();
  const manager = new KernelWidgetManager(kernel, clone);
  manager.register({
    name: '@jupyter-widgets/base',
    version: base.JUPYTER_WIDGETS_VERSION,
    exports: {
      WidgetModel: base.WidgetModel,
      WidgetView: base.WidgetView,
      DOMWidgetView: base.DOMWidgetView,
      DOMWidgetModel: base.DOMWidgetModel,
      LayoutModel: base.LayoutModel,
      LayoutView: base.LayoutView,
      StyleModel: base.StyleModel,
      StyleView: base.StyleView,
      ErrorWidgetView: base.ErrorWidgetView
    } as unknown as base.ExportMap
  });
  manager.register({
    name: '@jupyter-widgets/controls',
    version: JUPYTER_CONTROLS_VERSION,
    exports: () => import('@jupyter-widgets/controls') as unknown as Promise<base.ExportMap>
  });
  manager.register({
    name: '@jupyter-widgets/output',
    version: output.OUTPUT_WIDGET_VERSION,
    exports: {
      OutputModel: output.OutputModel,
      OutputView: output.OutputView
    } as unknown as base.ExportMap
  });
  // The lab's rendermime carries a placeholder widget renderer without a manager: replace it.
  clone.removeMimeType(WIDGET_VIEW_MIMETYPE);
  clone.addFactory(
    {
      safe: false,
      mimeTypes: [WIDGET_VIEW_MIMETYPE],
      createRenderer: options => new WidgetRenderer(options, manager)
    },
    -10
  );
  return { manager, rendermime: clone };
}
