/**
 * denbi-jupyter's JupyterLab extension: the de.NBI Cloud side panel (restored with the
 * layout), its commands in the palette, and three Launcher tiles.
 *
 * The Python side stays the single source of the UI: the panel shows the `CloudPanel` that
 * `denbi_jupyter.lab_panel.show()` displays in the panel's own kernel. The server extension
 * (`denbi_jupyter.labserver`) answers `denbi-jupyter/status` and `denbi-jupyter/notebook` and
 * serves the Prefect UI under `denbi-jupyter/prefect/`. Copy buttons in the widgets work through
 * one delegated click handler (`clipboard.ts`).
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { apiUrl, INotebookReply, IStatus, requestAPI } from './api';
import { installCopyHandler } from './clipboard';
import { cloudIcon, flowIcon, notebookIcon } from './icons';
import { CloudSidebar, focusCode, IPanelSettings, PANEL_ID } from './panel';

/** The plugin id; also the id of the settings schema (schema/plugin.json). */
const PLUGIN_ID = 'denbi-jupyter:plugin';

/** The palette and Launcher category. */
const CATEGORY = 'de.NBI Cloud';

/** The extension's commands. */
export namespace CommandIDs {
  export const openPanel = 'denbi-jupyter:open-panel';
  export const openPrefectUi = 'denbi-jupyter:open-prefect-ui';
  export const openNotebook = 'denbi-jupyter:open-notebook';
  export const createSnapshot = 'denbi-jupyter:create-snapshot';
  export const restartKernel = 'denbi-jupyter:restart-kernel';
}

/** The settings the extension reads, with the schema's defaults. */
interface ISettings extends IPanelSettings {
  openOnStart: boolean;
}

const DEFAULTS: ISettings = { kernelName: 'python3', defaultSite: '', openOnStart: false };

function readSettings(settings: ISettingRegistry.ISettings | null): ISettings {
  if (!settings) {
    return { ...DEFAULTS };
  }
  const composite = settings.composite as Partial<ISettings>;
  const kernelName =
    typeof composite.kernelName === 'string' && composite.kernelName.trim() !== ''
      ? composite.kernelName.trim()
      : DEFAULTS.kernelName;
  return {
    kernelName,
    defaultSite: typeof composite.defaultSite === 'string' ? composite.defaultSite : '',
    openOnStart: composite.openOnStart === true
  };
}

/** Open the Prefect UI in a new tab, once the server extension says Prefect is up. */
async function openPrefectUi(app: JupyterFrontEnd): Promise<void> {
  const settings = app.serviceManager.serverSettings;
  let status: IStatus;
  try {
    status = await requestAPI<IStatus>('status', { method: 'GET' }, settings);
  } catch (error) {
    Notification.error(`Cannot ask the lab for Prefect's state: ${(error as Error).message}`, {
      autoClose: false
    });
    return;
  }
  const prefect = status.prefect ?? { state: 'failed', ui_path: '', error: 'no prefect entry' };
  const url = apiUrl(settings, 'prefect') + '/';
  switch (prefect.state) {
    case 'ready':
    case 'external': {
      const opened = window.open(url, '_blank');
      if (opened) {
        opened.opener = null;
      } else {
        Notification.warning('The browser blocked the new tab for the Prefect UI.', {
          autoClose: false,
          actions: [{ label: 'Open Prefect UI', callback: () => window.open(url, '_blank') }]
        });
      }
      return;
    }
    case 'starting':
      Notification.info('The Prefect server is still starting; try again in a few seconds.', {
        autoClose: 5000
      });
      return;
    case 'disabled':
      Notification.warning(
        'The lab does not run a Prefect server: the de.NBI Cloud setting "startPrefect" is off ' +
          '(it takes effect when JupyterLab restarts).',
        { autoClose: false }
      );
      return;
    default:
      Notification.error(
        `The Prefect server is not available (${prefect.state})` +
          (prefect.error ? `: ${prefect.error}` : '.'),
        { autoClose: false }
      );
  }
}

/** Copy the main notebook into the user's root if missing, then open it. */
async function openNotebook(app: JupyterFrontEnd): Promise<void> {
  let reply: INotebookReply;
  try {
    reply = await requestAPI<INotebookReply>(
      'notebook',
      { method: 'POST', body: '{}' },
      app.serviceManager.serverSettings
    );
  } catch (error) {
    Notification.error(`Cannot provide the de.NBI notebook: ${(error as Error).message}`, {
      autoClose: false
    });
    return;
  }
  await app.commands.execute('docmanager:open', { path: reply.path });
}

function activate(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  restorer: ILayoutRestorer | null,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  installCopyHandler(document);
  let settings: ISettingRegistry.ISettings | null = null;
  const settingsLoaded: Promise<void> = settingRegistry
    ? settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          settings = loaded;
        })
        .catch(reason => {
          console.error('denbi-jupyter: cannot load the settings, using defaults', reason);
        })
    : Promise.resolve();

  const panel = new CloudSidebar({
    serviceManager: app.serviceManager,
    rendermime,
    settings: async () => {
      await settingsLoaded;
      if (settingRegistry && settings) {
        // Pick up edits made elsewhere (another tab, the settings file) since the lab loaded.
        try {
          settings = await settingRegistry.reload(PLUGIN_ID);
        } catch (reason) {
          console.warn('denbi-jupyter: cannot reload the settings', reason);
        }
      }
      return readSettings(settings);
    }
  });
  panel.title.label = '';
  app.shell.add(panel, 'left', { rank: 200 });

  const tracker = new WidgetTracker<CloudSidebar>({ namespace: 'denbi-jupyter' });
  void tracker.add(panel);
  if (restorer) {
    restorer.add(panel, PANEL_ID);
  }

  const showPanel = (): void => {
    app.shell.activateById(panel.id);
    widenLeftArea(app);
  };
  const showPanelWhenReady = async (): Promise<void> => {
    await settingsLoaded;
    showPanel();
  };

  const { commands } = app;
  // The three Launcher tiles: a short label on the tile, a long one in the palette.
  const tiles: [string, ITile][] = [
    [
      CommandIDs.openPanel,
      {
        tile: 'de.NBI Cloud',
        label: 'Open the de.NBI Cloud Panel',
        caption: 'Manage de.NBI Cloud VMs, images and snapshots',
        icon: cloudIcon,
        execute: async () => {
          await showPanelWhenReady();
          void panel.start();
        }
      }
    ],
    [
      CommandIDs.openPrefectUi,
      tile(
        'Prefect UI',
        'Open the Prefect UI',
        "Open the Prefect UI of the lab's Prefect server in a new browser tab",
        flowIcon,
        () => openPrefectUi(app)
      )
    ],
    [
      CommandIDs.openNotebook,
      tile(
        'de.NBI notebook',
        'Open the de.NBI Cloud Notebook',
        'Copy the main de.NBI Cloud notebook into your folder (if missing) and open it',
        notebookIcon,
        () => openNotebook(app)
      )
    ]
  ];
  for (const [id, tile] of tiles) {
    commands.addCommand(id, tileCommand(tile));
  }
  const openSnapshotsTab = async (): Promise<void> => {
    await showPanelWhenReady();
    await panel.start();
    const outcome = await panel.execute(focusCode('snapshots'));
    if (!outcome.ok) {
      Notification.error(
        `Cannot open the Snapshots tab: ${outcome.ename}: ${outcome.evalue ?? ''}`,
        { autoClose: false }
      );
    }
  };
  const restartPanel = async (): Promise<void> => {
    await showPanelWhenReady();
    await panel.restart();
  };
  commands.addCommand(CommandIDs.createSnapshot, {
    label: 'Create a Snapshot…',
    caption: 'Open the de.NBI Cloud panel on its Snapshots tab',
    execute: openSnapshotsTab
  });
  commands.addCommand(CommandIDs.restartKernel, {
    label: 'Restart the de.NBI Cloud Kernel',
    caption: "Restart the panel's kernel and show the panel again",
    execute: restartPanel
  });

  if (palette) {
    for (const command of Object.values(CommandIDs)) {
      palette.addItem({ command, category: CATEGORY, args: { isPalette: true } });
    }
  }
  if (launcher) {
    tiles.forEach(([command], index) => {
      launcher.add({ command, category: CATEGORY, rank: index + 1, args: { isLauncher: true } });
    });
  }

  void Promise.all([app.restored, settingsLoaded]).then(() => {
    if (readSettings(settings).openOnStart && !panel.isVisible) {
      showPanel();
    }
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'de.NBI Cloud side panel, commands and Launcher tiles.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ILayoutRestorer, ISettingRegistry, ICommandPalette, ILauncher],
  activate
};

export default plugin;

/** The panel's tables need room: below this width the left area is widened on opening. */
const MIN_PANEL_WIDTH = 480;

/**
 * Widen the left area to MIN_PANEL_WIDTH (at most 45% of the window) when the user opens the
 * panel from the Launcher or the palette. JupyterLab 4 has no public API for the side areas'
 * width; its split panel is used when present, and nothing happens otherwise (the user can
 * still drag the handle).
 */
function widenLeftArea(app: JupyterFrontEnd): void {
  const split = (app.shell as unknown as { _hsplitPanel?: IRelativeSizes })._hsplitPanel;
  if (!split || typeof split.relativeSizes !== 'function') {
    return;
  }
  const total = split.node.clientWidth;
  const sizes = split.relativeSizes();
  if (total <= 0 || sizes.length !== 3 || sizes[0] * total >= MIN_PANEL_WIDTH) {
    return;
  }
  const left = Math.min(MIN_PANEL_WIDTH / total, 0.45);
  const rest = sizes[1] + sizes[2] || 1;
  const scale = (1 - left) / rest;
  split.setRelativeSizes([left, sizes[1] * scale, sizes[2] * scale]);
}

interface IRelativeSizes {
  node: HTMLElement;
  relativeSizes(): number[];
  setRelativeSizes(sizes: number[]): void;
}

/** A command shown as a Launcher tile and in the palette. */
interface ITile {
  /** The tile's short label. */
  tile: string;
  /** The palette's label. */
  label: string;
  caption: string;
  icon: LabIcon;
  execute: () => unknown;
}

/** A tile from its parts, in ITile's order. */
function tile(
  short: string,
  label: string,
  caption: string,
  icon: LabIcon,
  execute: () => unknown
): ITile {
  return { tile: short, label, caption, icon, execute };
}

/** The command of a tile: short label and icon on the Launcher, long label in the palette. */
function tileCommand(options: ITile): Parameters<JupyterFrontEnd['commands']['addCommand']>[1] {
  return {
    label: args => (args.isLauncher ? options.tile : options.label),
    caption: options.caption,
    icon: args => (args.isPalette ? undefined : options.icon),
    execute: options.execute
  };
}
