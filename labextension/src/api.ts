/**
 * The two REST endpoints of the server extension (`denbi_jupyter.labserver`), called with the
 * lab's own authentication.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Where the server extension's routes live, below the lab's base URL. */
export const API_NAMESPACE = 'denbi-jupyter';

/** The Prefect server's state as the server extension reports it. */
export type PrefectState = 'ready' | 'starting' | 'external' | 'failed' | 'disabled';

/** `GET <baseUrl>denbi-jupyter/status`. */
export interface IStatus {
  version: string;
  prefect: {
    state: PrefectState;
    ui_path: string;
    error: string;
  };
}

/** `POST <baseUrl>denbi-jupyter/notebook`. */
export interface INotebookReply {
  path: string;
  created: boolean;
}

/** An endpoint that answered with an error status or not with JSON. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** Absolute URL of a page below the server extension's namespace, e.g. `prefect/`. */
export function apiUrl(settings: ServerConnection.ISettings, ...parts: string[]): string {
  return URLExt.join(settings.baseUrl, API_NAMESPACE, ...parts);
}

/**
 * Call one of the server extension's endpoints and decode its JSON answer.
 *
 * @throws ApiError when the server is unreachable, answers an error status or no JSON.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = apiUrl(settings, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(`Cannot reach ${url}: ${String(error)}`, 0);
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const detail =
      data && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : response.statusText;
    const hint =
      response.status === 404
        ? ' (is the server extension denbi_jupyter.labserver enabled? see `jupyter server extension list`)'
        : '';
    throw new ApiError(`${url} answered ${response.status} ${detail}${hint}`, response.status);
  }
  if (data === undefined) {
    throw new ApiError(`${url} did not answer JSON`, response.status);
  }
  return data as T;
}
