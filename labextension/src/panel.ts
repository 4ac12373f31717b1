/**
 * The de.NBI Cloud side panel: owns one kernel per lab window and renders the Python
 * `CloudPanel` (displayed by `denbi_jupyter.lab_panel.show`) with a widget manager bound to it.
 *
 * The panel never stays blank: before the widget arrives it says what it is waiting for, and
 * when the kernel dies or the Python side fails it shows why, next to the Restart button.
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { URLExt } from '@jupyterlab/coreutils';
import {
  KernelMessage,
  ServerConnection,
  ServiceManager,
  Session
} from '@jupyterlab/services';
import { UUID, PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import { Panel, PanelLayout, Widget } from '@lumino/widgets';

import { cloudIcon } from './icons';
import { createWidgetRendering, IWidgetRendering, WIDGET_VIEW_MIMETYPE } from './widgets';

/** The panel's id in the shell (and its name in the layout restorer). */
export const PANEL_ID = 'denbi-cloud-panel';

/** The session type of the panel's kernel, as the running-sessions list shows it. */
export const SESSION_TYPE = 'denbi-cloud';

/** The session path of this browser tab's kernel, kept across page reloads (one kernel per tab). */
const SESSION_KEY = 'denbi-jupyter:session-path';

/**
 * How long a request may go unanswered before it is sent again: a request sent while a fresh
 * kernel's websocket is still being replaced can be lost, and the panel would say "Loading…"
 * forever. Once the kernel has started executing it, the panel waits as long as it takes.
 */
const UNANSWERED_RETRY_MS = 15000;
const RETRIES = 2;

/** What the panel needs to know from the settings when it (re)starts its kernel. */
export interface IPanelSettings {
  kernelName: string;
  defaultSite: string;
}

/** The state shown in `.denbi-kernel-status[data-state]`. */
export type PanelKernelState =
  | 'not-started'
  | 'starting'
  | 'idle'
  | 'busy'
  | 'restarting'
  | 'dead'
  | 'disconnected'
  | 'unknown';

/** The answer of one execution in the panel's kernel. */
export interface IExecuteOutcome {
  ok: boolean;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** Remove ANSI colour codes from a Python traceback. */
function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

/** The code that displays the panel in the kernel. */
export function showCode(site: string): string {
  // A JSON string literal is a valid Python string literal.
  return `from denbi_jupyter.lab_panel import show; show(site=${JSON.stringify(site)})`;
}

/** The code that brings one tab of the panel to the front. */
export function focusCode(tab: string): string {
  return `from denbi_jupyter.lab_panel import focus; focus(${JSON.stringify(tab)})`;
}

/**
 * The left-area panel.
 */
export class CloudSidebar extends Widget {
  constructor(options: CloudSidebar.IOptions) {
    super();
    this._services = options.serviceManager;
    this._labRendermime = options.rendermime;
    this._getSettings = options.settings;
    this.id = PANEL_ID;
    this.title.icon = cloudIcon;
    this.title.caption = 'de.NBI Cloud';
    this.addClass('denbi-cloud-sidebar');

    const layout = new PanelLayout();
    this.layout = layout;
    const header = document.createElement('div');
    header.className = 'denbi-cloud-header';
    const title = document.createElement('span');
    title.className = 'denbi-cloud-title';
    title.textContent = 'de.NBI Cloud';
    this._statusNode = document.createElement('span');
    this._statusNode.className = 'denbi-kernel-status';
    this._restartButton = document.createElement('button');
    this._restartButton.className = 'denbi-kernel-restart jp-mod-styled jp-mod-reject';
    this._restartButton.type = 'button';
    this._restartButton.textContent = 'Restart';
    this._restartButton.title = "Restart the panel's kernel and show the panel again";
    this._restartButton.addEventListener('click', () => {
      void this.restart();
    });
    header.append(title, this._statusNode, this._restartButton);
    const headerWidget = new Widget({ node: header });

    this._messageNode = document.createElement('div');
    this._messageNode.className = 'denbi-cloud-message';
    this._errorNode = document.createElement('div');
    this._errorNode.className = 'denbi-kernel-error';
    this._errorNode.setAttribute('role', 'alert');
    this._errorNode.hidden = true;
    const notices = document.createElement('div');
    notices.className = 'denbi-cloud-notices';
    notices.append(this._messageNode, this._errorNode);
    const noticeWidget = new Widget({ node: notices });

    this._output = new Panel();
    this._output.addClass('denbi-cloud-output');

    layout.addWidget(headerWidget);
    layout.addWidget(noticeWidget);
    layout.addWidget(this._output);
    this._setState('not-started');
    this._setMessage('The panel starts its kernel when you open it.');
    window.addEventListener('pagehide', this._onPageHide);
  }

  /** The kernel state shown in the status line. */
  get state(): PanelKernelState {
    return this._state;
  }

  /** Emitted when the status line changes. */
  get stateChanged(): ISignal<this, PanelKernelState> {
    return this._stateChanged;
  }

  /** The session of the panel's kernel, if one is started. */
  get session(): Session.ISessionConnection | null {
    return this._session;
  }

  /** Resolves once the panel is rendered (or failed to), for the current kernel. */
  get rendered(): Promise<void> {
    return this._rendered.promise;
  }

  /**
   * Start the kernel and render the panel, unless already done.
   */
  start(): Promise<void> {
    if (!this._started) {
      this._started = true;
      void this._startSession();
    }
    return this._rendered.promise;
  }

  /**
   * Restart the kernel (or start a new one if it is gone) and render the panel again.
   *
   * The current settings (kernel name, default site) apply.
   */
  async restart(): Promise<void> {
    if (this._restarting) {
      return this._rendered.promise;
    }
    this._restarting = true;
    this._started = true;
    this._newRenderCycle();
    this._clearOutput();
    this._setError(null);
    this._setMessage('Restarting the kernel…');
    try {
      const session = this._session;
      const kernel = session?.kernel;
      this._settings = await this._readSettings();
      const wanted = this._settings.kernelName;
      const alive =
        session && !session.isDisposed && kernel && !kernel.isDisposed && kernel.status !== 'dead';
      if (alive && kernel!.name === wanted) {
        this._setState('restarting');
        this._disposeRendering();
        try {
          await kernel!.restart();
          await this._render();
          return;
        } catch (error) {
          console.warn('denbi-jupyter: restart failed, starting a new kernel', error);
        }
      }
      await this._startSession();
    } finally {
      this._restarting = false;
    }
  }

  /**
   * Run code in the panel's kernel (e.g. `focus("snapshots")`); its displays go to the panel.
   */
  async execute(code: string): Promise<IExecuteOutcome> {
    await this.start();
    const kernel = this._session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return { ok: false, ename: 'KernelError', evalue: 'The panel has no running kernel.' };
    }
    return this._run(kernel, code, this._cycle);
  }

  /** Shut the panel's kernel down (on dispose). */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.removeEventListener('pagehide', this._onPageHide);
    this._dropSession();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.start();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.start();
    }
  }

  /**
   * The tab closes or reloads: shut the kernel down (a request that outlives the page), so a
   * closed tab leaves no kernel behind. A reload also replaces a kernel this misses.
   */
  private _onPageHide = (): void => {
    const session = this._session;
    if (!session || session.isDisposed) {
      return;
    }
    const settings = this._services.serverSettings;
    const url = URLExt.join(settings.baseUrl, 'api/sessions', encodeURIComponent(session.id));
    void ServerConnection.makeRequest(url, { method: 'DELETE', keepalive: true }, settings).catch(
      () => undefined
    );
  };

  /** The settings for a (re)start; the last known ones if they cannot be read. */
  private async _readSettings(): Promise<IPanelSettings> {
    try {
      return await this._getSettings();
    } catch (error) {
      console.warn('denbi-jupyter: cannot read the settings', error);
      return this._settings;
    }
  }

  /** Start a new session (shutting down the one this tab ran before a reload). */
  private async _startSession(): Promise<void> {
    const cycle = this._cycle;
    this._setError(null);
    this._setState('starting');
    this._dropSession();
    try {
      if (!this._restarting) {
        // (restart() has read them already)
        this._settings = await this._readSettings();
      }
      await this._services.ready;
      const { kernelName } = this._settings;
      // The kernel this tab started before a page reload: its widget views are gone and
      // reloading every model of a CloudPanel is slow, so replace it with a fresh kernel.
      const previous = window.sessionStorage.getItem(SESSION_KEY);
      if (previous) {
        window.sessionStorage.removeItem(SESSION_KEY);
        const model = await this._services.sessions.findByPath(previous).catch(() => undefined);
        if (model) {
          await this._services.sessions.shutdown(model.id).catch(reason => {
            console.warn('denbi-jupyter: cannot shut down the previous kernel', reason);
          });
        }
      }
      await this._services.kernelspecs.ready;
      const specs = this._services.kernelspecs.specs;
      if (specs && !(kernelName in specs.kernelspecs)) {
        const known = Object.keys(specs.kernelspecs).join(', ');
        throw new PanelError(
          'NoSuchKernel',
          `There is no kernel spec named "${kernelName}" (known: ${known}). ` +
            'Change the setting "kernelName" of de.NBI Cloud, then press Restart.'
        );
      }
      this._setMessage(`Starting a ${kernelName} kernel…`);
      const path = `.denbi-cloud-panel-${UUID.uuid4()}`;
      const session = await this._services.sessions.startNew({
        path,
        type: SESSION_TYPE,
        name: 'de.NBI Cloud',
        kernel: { name: kernelName }
      });
      window.sessionStorage.setItem(SESSION_KEY, path);
      if (cycle !== this._cycle) {
        session.dispose();
        return;
      }
      this._adopt(session);
      await this._render();
    } catch (error) {
      if (cycle !== this._cycle) {
        return;
      }
      this._setState(this._session?.kernel ? this._kernelState() : 'dead');
      const { ename, evalue } =
        error instanceof PanelError
          ? error
          : { ename: 'KernelStartError', evalue: `Could not start the kernel: ${String(error)}` };
      this._showFailure({ ok: false, ename, evalue });
      this._rendered.resolve();
    }
  }

  /** Follow a session's kernel status. */
  private _adopt(session: Session.ISessionConnection): void {
    this._session = session;
    session.statusChanged.connect(this._onStatus, this);
    session.connectionStatusChanged.connect(this._onConnection, this);
    session.kernelChanged.connect(this._onKernelChanged, this);
    session.disposed.connect(this._onSessionDisposed, this);
    this._setState(this._kernelState());
  }

  /** Forget the current session, shutting its kernel down. */
  private _dropSession(): void {
    const session = this._session;
    if (!session) {
      return;
    }
    this._session = null;
    this._disposeRendering();
    session.statusChanged.disconnect(this._onStatus, this);
    session.connectionStatusChanged.disconnect(this._onConnection, this);
    session.kernelChanged.disconnect(this._onKernelChanged, this);
    session.disposed.disconnect(this._onSessionDisposed, this);
    if (window.sessionStorage.getItem(SESSION_KEY) === session.path) {
      window.sessionStorage.removeItem(SESSION_KEY);
    }
    if (!session.isDisposed) {
      session.shutdown().catch(() => session.dispose());
    } else {
      session.dispose();
    }
  }

  /** Execute `show()` and render what it displays. */
  private async _render(): Promise<void> {
    const cycle = this._cycle;
    const kernel = this._session?.kernel;
    if (!kernel) {
      return;
    }
    this._disposeRendering();
    this._clearOutput();
    this._setError(null);
    this._setMessage('Loading the de.NBI Cloud panel…');
    this._rendering = createWidgetRendering(kernel, this._labRendermime);
    const outcome = await this._run(kernel, showCode(this._settings.defaultSite), cycle, RETRIES);
    if (cycle !== this._cycle) {
      return;
    }
    if (outcome.ok) {
      this._setMessage(
        this._output.widgets.length === 0 ? 'The kernel displayed nothing.' : ''
      );
    } else {
      this._showFailure(outcome);
    }
    this._rendered.resolve();
  }

  /** Run code, adding displays and streams to the output area. */
  private async _run(
    kernel: Kernel,
    code: string,
    cycle: number,
    retries = 0
  ): Promise<IExecuteOutcome> {
    let future: ReturnType<Kernel['requestExecute']>;
    try {
      future = kernel.requestExecute({
        code,
        silent: false,
        store_history: false,
        allow_stdin: false,
        stop_on_error: true
      });
    } catch (error) {
      return { ok: false, ename: 'KernelError', evalue: String(error) };
    }
    let failure: IExecuteOutcome | null = null;
    let answered = false;
    future.onIOPub = msg => {
      answered = true;
      if (cycle !== this._cycle) {
        return;
      }
      const type = msg.header.msg_type;
      if (KernelMessage.isDisplayDataMsg(msg) || KernelMessage.isExecuteResultMsg(msg)) {
        void this._addBundle(msg.content.data, msg.content.metadata);
      } else if (KernelMessage.isStreamMsg(msg)) {
        this._addStream(msg.content.name, msg.content.text);
      } else if (KernelMessage.isErrorMsg(msg)) {
        failure = {
          ok: false,
          ename: msg.content.ename,
          evalue: msg.content.evalue,
          traceback: msg.content.traceback
        };
      } else if (type === 'clear_output') {
        this._clearOutput();
      }
    };
    try {
      if (retries > 0) {
        const unanswered = await new Promise<boolean>((resolve, reject) => {
          const timer = window.setTimeout(() => resolve(!answered), UNANSWERED_RETRY_MS);
          future.done.then(
            () => {
              window.clearTimeout(timer);
              resolve(false);
            },
            (reason: unknown) => {
              window.clearTimeout(timer);
              reject(reason);
            }
          );
        });
        if (unanswered && cycle === this._cycle) {
          console.warn('denbi-jupyter: the kernel did not answer; sending the request again');
          future.dispose();
          return this._run(kernel, code, cycle, retries - 1);
        }
      }
      const reply = await future.done;
      const content = reply.content;
      if (content.status === 'error') {
        return (
          failure ?? {
            ok: false,
            ename: content.ename,
            evalue: content.evalue,
            traceback: content.traceback
          }
        );
      }
      if (content.status === 'aborted') {
        return { ok: false, ename: 'Aborted', evalue: 'The kernel aborted the execution.' };
      }
      return { ok: true };
    } catch (error) {
      // A kernel that dies or restarts cancels the request.
      return {
        ok: false,
        ename: 'KernelError',
        evalue: `The kernel stopped before answering (${String(error)}).`
      };
    }
  }

  private async _addBundle(
    data: KernelMessage.IDisplayDataMsg['content']['data'],
    metadata: KernelMessage.IDisplayDataMsg['content']['metadata']
  ): Promise<void> {
    const rendermime = this._rendering?.rendermime;
    if (!rendermime) {
      return;
    }
    const mimeType = rendermime.preferredMimeType(data, 'any');
    if (!mimeType) {
      return;
    }
    if (mimeType === WIDGET_VIEW_MIMETYPE) {
      // `show()` displays its widget and returns it: render each widget once.
      const modelId = (data[mimeType] as { model_id?: string } | undefined)?.model_id ?? '';
      if (this._shownModels.has(modelId)) {
        return;
      }
      this._shownModels.add(modelId);
    }
    const renderer = rendermime.createRenderer(mimeType);
    renderer.addClass('denbi-cloud-output-item');
    this._output.addWidget(renderer);
    this._setMessage('');
    try {
      await renderer.renderModel(new MimeModel({ data, metadata, trusted: true }));
    } catch (error) {
      renderer.node.textContent = `Cannot render ${mimeType}: ${String(error)}`;
    }
  }

  private _addStream(name: string, text: string): void {
    const pre = document.createElement('pre');
    pre.className = `denbi-cloud-stream denbi-cloud-stream-${name}`;
    pre.textContent = stripAnsi(text);
    this._output.addWidget(new Widget({ node: pre }));
  }

  private _clearOutput(): void {
    this._shownModels.clear();
    for (const widget of [...this._output.widgets]) {
      widget.dispose();
    }
  }

  private _disposeRendering(): void {
    if (this._rendering) {
      this._rendering.manager.dispose();
      this._rendering = null;
    }
  }

  /** Start a new render cycle: results of older executions are dropped. */
  private _newRenderCycle(): void {
    this._cycle += 1;
    this._rendered = new PromiseDelegate<void>();
  }

  private _onStatus(_: Session.ISessionConnection, status: string): void {
    this._setState(this._kernelState());
    if (status === 'restarting' || status === 'autorestarting') {
      if (!this._restarting) {
        // Restarted from elsewhere (running-kernels list, a crash): render again once idle.
        this._rerenderWhenIdle = true;
        this._newRenderCycle();
        this._disposeRendering();
        this._clearOutput();
        this._setMessage('The kernel is restarting…');
      }
    } else if (status === 'idle' && this._rerenderWhenIdle) {
      this._rerenderWhenIdle = false;
      void this._render();
    } else if (status === 'dead') {
      this._onDead('The kernel died.');
    }
  }

  private _onConnection(_: Session.ISessionConnection, status: string): void {
    this._setState(this._kernelState());
    if (status === 'disconnected' && !this._restarting) {
      this._onDead('Lost the connection to the kernel.');
    }
  }

  private _onKernelChanged(): void {
    if (this._restarting) {
      return;
    }
    this._rerenderWhenIdle = true;
    this._newRenderCycle();
    this._disposeRendering();
    this._clearOutput();
    this._setState(this._kernelState());
  }

  private _onSessionDisposed(): void {
    if (this._restarting) {
      return;
    }
    this._session = null;
    this._onDead('The kernel was shut down.');
  }

  /** The kernel is gone: say so, keep the Restart button. */
  private _onDead(reason: string): void {
    if (this._restarting) {
      return;
    }
    this._newRenderCycle();
    this._disposeRendering();
    this._clearOutput();
    this._setState(this._session?.kernel?.connectionStatus === 'disconnected' ? 'disconnected' : 'dead');
    if (!this._session || this._session.isDisposed || this._session.kernel?.status === 'dead') {
      this._setState('dead');
    }
    this._setMessage('');
    this._showFailure({
      ok: false,
      ename: 'KernelDead',
      evalue: `${reason} Press Restart to start a new kernel and show the panel again.`
    });
    this._rendered.resolve();
  }

  private _kernelState(): PanelKernelState {
    const session = this._session;
    if (!session || session.isDisposed) {
      return 'dead';
    }
    if (session.kernel?.connectionStatus === 'disconnected') {
      return 'disconnected';
    }
    const kernel = session.kernel;
    if (!kernel) {
      return 'starting';
    }
    switch (kernel.status) {
      case 'idle':
      case 'busy':
      case 'starting':
      case 'restarting':
      case 'dead':
        return kernel.status;
      case 'autorestarting':
        return 'restarting';
      case 'terminating':
        return 'dead';
      default:
        return session.kernel?.connectionStatus === 'connecting' ? 'starting' : 'unknown';
    }
  }

  private _setState(state: PanelKernelState): void {
    const labels: Record<PanelKernelState, string> = {
      'not-started': 'not started',
      starting: 'starting',
      idle: 'idle',
      busy: 'busy',
      restarting: 'restarting',
      dead: 'dead',
      disconnected: 'disconnected',
      unknown: 'unknown'
    };
    const name = this._session?.kernel?.name;
    this._statusNode.dataset.state = state;
    this._statusNode.textContent = name ? `${name}: ${labels[state]}` : labels[state];
    this._statusNode.title = this._session?.kernel
      ? `Kernel ${this._session.kernel.id} (${this._session.path})`
      : '';
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _setMessage(text: string): void {
    this._messageNode.textContent = text;
    this._messageNode.hidden = text === '';
  }

  private _setError(outcome: IExecuteOutcome | null): void {
    this._errorNode.replaceChildren();
    this._errorNode.hidden = outcome === null;
  }

  /** Show what went wrong: ename, evalue and the traceback, as text. */
  private _showFailure(outcome: IExecuteOutcome): void {
    this._setError(outcome);
    const title = document.createElement('div');
    title.className = 'denbi-kernel-error-title';
    title.textContent =
      outcome.ename === 'KernelDead'
        ? 'The de.NBI Cloud kernel stopped'
        : 'The de.NBI Cloud panel could not be shown';
    const summary = document.createElement('div');
    summary.className = 'denbi-kernel-error-summary';
    summary.textContent = outcome.evalue
      ? `${outcome.ename}: ${outcome.evalue}`
      : String(outcome.ename ?? 'Error');
    this._errorNode.append(title, summary);
    if (outcome.traceback && outcome.traceback.length > 0) {
      const pre = document.createElement('pre');
      pre.className = 'denbi-kernel-error-traceback';
      pre.textContent = stripAnsi(outcome.traceback.join('\n'));
      this._errorNode.append(pre);
    }
    if (outcome.ename !== 'KernelDead') {
      const hint = document.createElement('div');
      hint.className = 'denbi-kernel-error-hint';
      hint.textContent =
        'The panel runs `from denbi_jupyter.lab_panel import show` in the kernel set by the ' +
        'setting "kernelName"; that kernel needs denbi-jupyter installed. Press Restart to try again.';
      this._errorNode.append(hint);
    }
    this._setMessage('');
  }

  private _services: ServiceManager.IManager;
  private _labRendermime: IRenderMimeRegistry;
  private _getSettings: () => Promise<IPanelSettings>;
  private _settings: IPanelSettings = { kernelName: 'python3', defaultSite: '' };
  private _statusNode: HTMLElement;
  private _restartButton: HTMLButtonElement;
  private _messageNode: HTMLElement;
  private _errorNode: HTMLElement;
  private _output: Panel;
  private _session: Session.ISessionConnection | null = null;
  private _rendering: IWidgetRendering | null = null;
  private _state: PanelKernelState = 'not-started';
  private _stateChanged = new Signal<this, PanelKernelState>(this);
  private _rendered = new PromiseDelegate<void>();
  private _cycle = 0;
  private _started = false;
  private _restarting = false;
  private _rerenderWhenIdle = false;
  private _shownModels = new Set<string>();
}

/** An error the panel explains itself (no traceback). */
class PanelError extends Error {
  constructor(
    readonly ename: string,
    readonly evalue: string
  ) {
    super(evalue);
  }
}

type Kernel = NonNullable<Session.ISessionConnection['kernel']>;

export namespace CloudSidebar {
  export interface IOptions {
    serviceManager: ServiceManager.IManager;
    rendermime: IRenderMimeRegistry;
    /** Read the settings (fresh from the server) when the kernel (re)starts. */
    settings: () => Promise<IPanelSettings>;
  }
}
