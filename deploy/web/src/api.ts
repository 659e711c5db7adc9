// The HTTP client: bearer token from sessionStorage (or none: a client certificate), JSON
// errors as `{"error":{"code","message"}}`, and server-sent events read over fetch.

const TOKEN_KEY = 'sextant.token';

export function getToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(t: string) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  const t = getToken();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

/** The message of an error response, as text. */
export async function errorOf(resp: Response): Promise<ApiError> {
  const body = await resp.text().catch(() => '');
  return errorFromBody(resp.status, resp.statusText, body);
}

export function errorFromBody(status: number, statusText: string, body: string): ApiError {
  try {
    const err = JSON.parse(body).error;
    if (err && typeof err.message === 'string') {
      return new ApiError(status, typeof err.code === 'string' ? err.code : '', `${status} ${err.code ?? ''}: ${err.message}`);
    }
  } catch {
    // not JSON
  }
  return new ApiError(status, '', `${status} ${statusText}${body ? ': ' + body.slice(0, 300) : ''}`);
}

export interface Opts {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Statuses that still carry a JSON body to return (e.g. 503 from /readyz). */
  okStatuses?: number[];
}

/** A JSON request; resolves to the parsed body (null for 204). */
export async function api<T = any>(path: string, opts: Opts = {}): Promise<T> {
  const headers = authHeaders({ Accept: 'application/json' });
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const resp = await fetch(path, {
    method: opts.method ?? (body ? 'POST' : 'GET'),
    headers,
    body,
    credentials: 'same-origin',
    signal: opts.signal,
  });
  if (!resp.ok && !(opts.okStatuses ?? []).includes(resp.status)) throw await errorOf(resp);
  if (resp.status === 204) return null as T;
  const text = await resp.text();
  return (text ? JSON.parse(text) : null) as T;
}

export interface SseEvent {
  event: string;
  data: any;
}

/**
 * POSTs `body` and reads the answer as server-sent events, calling `onEvent` for each
 * (data parsed as JSON when it is). A non-event-stream answer is delivered as one
 * `{event: "json"}` event.
 */
export async function postSse(path: string, body: unknown, onEvent: (e: SseEvent) => void, signal?: AbortSignal): Promise<void> {
  const resp = await fetch(path, {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
    body: JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  if (!resp.ok) throw await errorOf(resp);
  const type = resp.headers.get('content-type') ?? '';
  if (!type.includes('text/event-stream') || !resp.body) {
    onEvent({ event: 'json', data: await resp.json() });
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const flush = (frame: string) => {
    let event = 'message';
    const data: string[] = [];
    for (const line of frame.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) return;
    const raw = data.join('\n');
    let parsed: any = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // plain text data
    }
    onEvent({ event, data: parsed });
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let at: number;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      flush(buf.slice(0, at));
      buf = buf.slice(at + 2);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) flush(buf);
}

/** Fetches a file with the bearer header and saves it through a blob URL. */
export async function download(path: string, fallbackName: string): Promise<string> {
  const resp = await fetch(path, { headers: authHeaders(), credentials: 'same-origin' });
  if (!resp.ok) throw await errorOf(resp);
  const cd = resp.headers.get('content-disposition') ?? '';
  const m = /filename="?([^";]+)"?/.exec(cd);
  const name = m ? m[1] : fallbackName;
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

// ---- wire types (the fields the app reads) ---------------------------------------------------

export interface Me {
  name: string;
  clearance: string;
  roles: string[];
  admin: boolean;
}

export interface Citation {
  n: number;
  marking: string;
  doc_id: string;
  chunk_id: number;
  title: string;
  source: string;
  page: number | null;
  start: number;
  end: number;
  quote: string;
}

export interface Answer {
  marking: string;
  answer: string;
  citations: Citation[];
  abstained: boolean;
  model: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  timing_ms?: { retrieve: number; prefill: number; generate: number };
  strategy?: string;
  supported_share?: number;
  route?: string;
  // An act answer ("route": "act"):
  status?: string;
  calls?: CallView[];
}

export interface CallView {
  id: string;
  state: string;
  connector: string;
  operation: string;
  method: string;
  url: string;
  arguments: unknown;
  summary: string;
  marking: string;
  status?: number;
  bytes?: number;
  duration_ms?: number;
  expires: number;
  error?: string;
}

export interface Acted {
  status: string;
  calls: CallView[];
  answer: string;
  citations: any[];
  marking: string;
  model?: string;
}

export interface DocumentBody {
  doc_id: string;
  title: string;
  source: string;
  format: string;
  bytes: number;
  chunks: number;
  ingested_at: number;
  marking: string;
  text: string;
  feed?: string;
  track?: { time: string; position: [number, number] }[];
}

export interface Model {
  id: string;
  ready: boolean;
  default: boolean;
}

export async function listModels(): Promise<Model[]> {
  const r = await api<{ data: Model[] }>('/v1/models');
  return Array.isArray(r?.data) ? r.data : [];
}
