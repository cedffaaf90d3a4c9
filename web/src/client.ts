/** The page's side of the worker protocol: typed calls that return promises. */
import type { Kind, Requests, Response } from './protocol.js';

export class ModelClient {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<Response>) => {
      const p = this.pending.get(ev.data.id);
      if (!p) return;
      this.pending.delete(ev.data.id);
      if (ev.data.error !== undefined) p.fail(new Error(ev.data.error));
      else p.ok(ev.data.result);
    };
  }

  call<K extends Kind>(kind: K, args: Requests[K]['req']): Promise<Requests[K]['res']> {
    const id = this.next++;
    return new Promise((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      this.worker.postMessage({ id, kind, args });
    });
  }
}
