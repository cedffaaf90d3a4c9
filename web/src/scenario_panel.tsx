/** The scenario side: pick an example or edit the YAML (problems at line:col as you type), and the timeline. */
import { useRef, useState } from 'preact/hooks';
import type { Loaded, ProblemText } from './protocol.js';

/** Offset in `text` of 1-based line:col. */
function offsetOf(text: string, line: number, col: number): number {
  let off = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off);
    if (nl < 0) return text.length;
    off = nl + 1;
  }
  return Math.min(text.length, off + col - 1);
}

interface EditorProps {
  examples: string[];
  scenario: string;
  edited: boolean;
  text: string;
  problems: ProblemText[];
  onPick: (name: string) => void;
  onText: (text: string) => void;
  onRun: () => void;
  /** A scenario file dropped on the editor: its name and text. */
  onDropFile: (name: string, text: string) => void;
}

export function Editor({
  examples,
  scenario,
  edited,
  text,
  problems,
  onPick,
  onText,
  onRun,
  onDropFile,
}: EditorProps) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [over, setOver] = useState(false);
  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer?.files[0];
    if (f) onDropFile(f.name, await f.text());
  };
  const jump = (p: ProblemText) => {
    const a = area.current;
    if (!a) return;
    const off = offsetOf(text, p.line, p.col);
    a.focus();
    a.setSelectionRange(off, off + 1);
  };
  return (
    <section class="editor">
      <div class="row">
        <select
          data-testid="example"
          value={edited ? '' : scenario}
          onChange={(e) => onPick((e.target as HTMLSelectElement).value)}
        >
          {edited && <option value="">{scenario} (edited)</option>}
          {examples.map((x) => (
            <option key={x} value={x}>
              {x}
            </option>
          ))}
        </select>
        <button type="button" data-testid="run" onClick={onRun} disabled={problems.length > 0}>
          Run ▶
        </button>
      </div>
      <textarea
        ref={area}
        data-testid="yaml"
        class={over ? 'over' : ''}
        placeholder="a scenario's YAML; drop a .yaml file here"
        onDragOver={(e) => {
          // Files only: dragging text inside the editor keeps the browser's own behaviour.
          if (!e.dataTransfer?.types.includes('Files')) return;
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          if (e.dataTransfer?.types.includes('Files')) void onDrop(e);
        }}
        spellcheck={false}
        value={text}
        onInput={(e) => onText((e.target as HTMLTextAreaElement).value)}
      />
      <ul class="problems" data-testid="problems">
        {problems.map((p) => (
          <li key={p.text}>
            <button type="button" class="link" onClick={() => jump(p)}>
              {p.text}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

interface TimelineProps {
  loaded: Loaded;
  step: number;
  onStep: (n: number) => void;
}

export function Timeline({ loaded, step, onStep }: TimelineProps) {
  const last = loaded.steps.length;
  const status = loaded.exitCode === 0 ? 'PASS' : loaded.exitCode === 1 ? 'FAIL' : 'BAD INPUT';
  return (
    <section class="timeline">
      <div class="row">
        <button type="button" onClick={() => onStep(step - 1)} disabled={step <= 0} title="previous step (←)">
          ◀
        </button>
        <input
          type="range"
          data-testid="scrubber"
          min={0}
          max={last}
          value={step}
          onInput={(e) => onStep(Number((e.target as HTMLInputElement).value))}
        />
        <button type="button" onClick={() => onStep(step + 1)} disabled={step >= last} title="next step (→)">
          ▶
        </button>
        <span data-testid="step-label">
          step {step}/{last}
        </span>
        <span class={`verdict ${status === 'PASS' ? 'pass' : 'fail'}`}>{status}</span>
      </div>
      <ol class="steps" data-testid="steps">
        <li class={step === 0 ? 'current' : ''}>
          <button type="button" class="link" onClick={() => onStep(0)}>
            0 boot: {loaded.memory || 'machine'}
          </button>
        </li>
        {loaded.steps.map((s) => (
          <li key={s.n} class={`${s.n === step ? 'current' : ''} ${s.status}`} data-step={s.n}>
            <button type="button" class="link" onClick={() => onStep(s.n)}>
              <span class="mark">
                {s.status === 'failed' ? '✗' : s.status === 'expected-error' ? '!' : '✓'}
              </span>
              {s.n} {s.op}: {s.summary}
            </button>
            {s.failures.map((f) => (
              <div class="failure" key={f}>
                {f}
              </div>
            ))}
          </li>
        ))}
      </ol>
    </section>
  );
}
