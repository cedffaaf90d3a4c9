/**
 * Processes: each one's VMAs as bars (width by the log of their size, since address spaces are
 * sparse); a click on a bar picks the page under the pointer and shows its 4-level walk, as
 * `pagelab explain --proc --addr` prints it.
 */
import type { ProcBar, VmaBar } from './protocol.js';

const hex = (n: number) => `0x${n.toString(16)}`;

interface Props {
  procs: ProcBar[];
  walk: string;
  onAddress: (pid: number, addr: number) => void;
}

function pageUnder(v: VmaBar, e: MouseEvent): number {
  const el = e.currentTarget as HTMLElement;
  const r = el.getBoundingClientRect();
  const frac = Math.min(0.999999, Math.max(0, (e.clientX - r.left) / r.width));
  const pages = (v.end - v.start) / 4096;
  return v.start + Math.floor(frac * pages) * 4096;
}

export function Processes({ procs, walk, onAddress }: Props) {
  return (
    <section class="procs" data-testid="procs">
      <h2>Processes</h2>
      {procs.length === 0 && <p class="muted">no process at this step</p>}
      {procs.map((p) => (
        <div class="proc" key={p.pid}>
          <div class="proc-name">
            {p.label ?? p.name}{' '}
            <span class="muted">
              pid {p.pid}
              {p.alive ? '' : ' (exited)'}
            </span>
          </div>
          <div class="vmas">
            {p.vmas.map((v) => (
              <button
                type="button"
                key={v.start}
                class="vma"
                data-testid="vma"
                data-pid={p.pid}
                data-start={v.start}
                style={{ flexGrow: Math.max(1, Math.log2((v.end - v.start) / 4096) + 1) }}
                title={`${hex(v.start)}-${hex(v.end)} ${v.flags} ${v.name}`}
                onClick={(e) => onAddress(p.pid, pageUnder(v, e))}
              >
                <span>{v.name || 'anon'}</span>
                <span class="muted">
                  {hex(v.start)} · {(v.end - v.start) / 4096} pages · {v.flags}
                </span>
              </button>
            ))}
          </div>
        </div>
      ))}
      {walk && (
        <pre class="walk" data-testid="walk">
          {walk}
        </pre>
      )}
    </section>
  );
}
