/**
 * Processes: each one's VMAs as bars (width by the log of their size, since address spaces are
 * sparse); a click on a bar picks the page under the pointer and shows its 4-level walk, as
 * `pagelab explain --proc --addr` prints it. The frame under the pointer (or the one selected) has
 * its mappings highlighted here — every VMA that maps it, and where — and a click on a process's
 * name selects it, outlining on the map every frame it maps.
 */
import type { Mapping, ProcBar, ProcFrames, VmaBar } from './protocol.js';

const hex = (n: number) => `0x${n.toString(16)}`;

interface Props {
  procs: ProcBar[];
  walk: string;
  onAddress: (pid: number, addr: number) => void;
  /** The frame hovered or selected on the map, and who maps it. */
  focus?: { pfn: number; mappings: Mapping[] };
  /** The selected process's frames. */
  selected?: ProcFrames;
  onSelectProc: (pid: number | undefined) => void;
}

function pageUnder(v: VmaBar, e: MouseEvent): number {
  const el = e.currentTarget as HTMLElement;
  const r = el.getBoundingClientRect();
  const frac = Math.min(0.999999, Math.max(0, (e.clientX - r.left) / r.width));
  const pages = (v.end - v.start) / 4096;
  return v.start + Math.floor(frac * pages) * 4096;
}

export function Processes({ procs, walk, onAddress, focus, selected, onSelectProc }: Props) {
  return (
    <section class="procs" data-testid="procs">
      <h2>Processes</h2>
      {procs.length === 0 && <p class="muted">no process at this step</p>}
      {focus && (
        <p class="mappings" data-testid="mappings">
          pfn {hex(focus.pfn)}:{' '}
          {focus.mappings.length === 0
            ? 'mapped by no process'
            : focus.mappings.map((m) => `pid ${m.pid} at ${hex(m.addr)} (${m.level})`).join(', ')}
        </p>
      )}
      {procs.map((p) => {
        const maps = focus?.mappings.filter((m) => m.pid === p.pid) ?? [];
        const isSelected = selected?.pid === p.pid;
        return (
          <div class={`proc${isSelected ? ' selected' : ''}`} key={p.pid} data-testid="proc" data-pid={p.pid}>
            <div class="proc-name">
              <button
                type="button"
                class="link"
                data-testid="proc-select"
                title="outline on the map every frame this process maps"
                onClick={() => onSelectProc(isSelected ? undefined : p.pid)}
              >
                {p.label ?? p.name}
              </button>{' '}
              <span class="muted">
                pid {p.pid}
                {p.alive ? '' : ' (exited)'}
              </span>
              {isSelected && selected && (
                <span class="muted" data-testid="proc-frames">
                  {' '}
                  · maps {selected.frames.length}
                  {selected.truncated ? '+' : ''} frames (outlined blue on the map), {selected.shared.length}{' '}
                  shared with another process (pink)
                </span>
              )}
            </div>
            <div class="vmas">
              {p.vmas.map((v) => {
                const here = maps.filter((m) => m.addr >= v.start && m.addr < v.end);
                return (
                  <button
                    type="button"
                    key={v.start}
                    class={`vma${here.length ? ' maps-focus' : ''}`}
                    data-testid="vma"
                    data-pid={p.pid}
                    data-start={v.start}
                    data-maps={here.length ? here.map((m) => hex(m.addr)).join(' ') : undefined}
                    style={{ flexGrow: Math.max(1, Math.log2((v.end - v.start) / 4096) + 1) }}
                    title={`${hex(v.start)}-${hex(v.end)} ${v.flags} ${v.name}`}
                    onClick={(e) => onAddress(p.pid, pageUnder(v, e))}
                  >
                    <span>{v.name || 'anon'}</span>
                    <span class="muted">
                      {hex(v.start)} · {(v.end - v.start) / 4096} pages · {v.flags}
                    </span>
                    {here.map((m) => (
                      <i
                        key={m.addr}
                        class="tick"
                        style={{ left: `${(100 * (m.addr - v.start)) / (v.end - v.start)}%` }}
                      />
                    ))}
                  </button>
                );
              })}
            </div>
          </div>
        );
      })}
      {walk && (
        <pre class="walk" data-testid="walk">
          {walk}
        </pre>
      )}
    </section>
  );
}
