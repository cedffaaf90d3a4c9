/**
 * The page: three views. Scenario — the YAML and timeline on the left, the memmap and the
 * processes on the right; Designs — the same left side, the design charts on the right;
 * Snapshot — a real machine's capture.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { CaptureView, captureProbe } from './capture_view.js';
import { charts } from './charts.js';
import { ModelClient } from './client.js';
import { TYPE_PALETTE } from './colors.js';
import { Designs } from './designs.js';
import {
  clampView,
  frameTimes,
  Heatmap,
  type MapSource,
  type MapView,
  pixelOf,
  workerTimes,
  zFit,
} from './heatmap.js';
import { Processes } from './procs.js';
import type { Loaded, Mapping, ProblemText, ProcBar, ProcFrames } from './protocol.js';
import { Editor, Timeline } from './scenario_panel.js';
import { readUrl, TABS, type Tab, writeUrl } from './url.js';

const client = new ModelClient();
const DEFAULT_SCENARIO = 'cow-after-fork.yaml';

/** Hooks for the browser tests and the performance readout. */
const probe = {
  ready: false,
  /** From Run to the first painted heatmap of its result. */
  firstRenderMs: 0,
  runStarted: 0,
  frameTimes,
  workerTimes,
  view: { z: 0, start: 0 } as MapView,
  pixelOf: (pfn: number) => pixelOf(probe.view, pfn),
  /** The frames outlined on the map (the selected process's). */
  marks: [] as readonly number[],
  shared: [] as readonly number[],
  charts,
  captureProbe,
};
(window as unknown as { __pagelab: typeof probe }).__pagelab = probe;

export function App() {
  const initial = useRef(readUrl());
  const [examples, setExamples] = useState<string[]>([]);
  const [scenario, setScenario] = useState(initial.current.scenario ?? DEFAULT_SCENARIO);
  const [text, setText] = useState('');
  /** The text no longer is the example's: the URL then names no scenario. */
  const [edited, setEdited] = useState(false);
  const [problems, setProblems] = useState<ProblemText[]>([]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [step, setStep] = useState(0);
  const [version, setVersion] = useState(0);
  const [view, setView] = useState<MapView>({ z: 0, start: 0 });
  const [selected, setSelected] = useState<number | undefined>(initial.current.pfn);
  const [dump, setDump] = useState('');
  const [procs, setProcs] = useState<ProcBar[]>([]);
  const [walk, setWalk] = useState('');
  const [error, setError] = useState('');
  const [tab, setTab] = useState<Tab>(initial.current.tab ?? 'scenario');
  const [hovered, setHovered] = useState<number | undefined>();
  const [focus, setFocus] = useState<{ pfn: number; mappings: Mapping[] } | undefined>();
  const [selectedPid, setSelectedPid] = useState<number | undefined>();
  const [procFrames, setProcFrames] = useState<ProcFrames | undefined>();
  const parseTimer = useRef<number>(0);
  // The step asked for last: two key presses before a re-render are two steps, not one.
  const target = useRef(0);
  probe.view = view;
  probe.marks = procFrames?.frames ?? [];
  probe.shared = procFrames?.shared ?? [];

  const run = async (yaml: string, file: string, restore = false) => {
    probe.runStarted = performance.now();
    probe.firstRenderMs = 0;
    setError('');
    const l = await client.call('load', { text: yaml, file });
    setLoaded(l);
    setProblems(l.errors);
    if (!l.ok) return;
    const u = initial.current;
    let n = l.steps.length;
    if (restore && u.step !== undefined) n = (await client.call('goto', { step: u.step })).step;
    target.current = n;
    setStep(n);
    setView(
      clampView(
        restore && u.z !== undefined ? { z: u.z, start: u.start ?? 0 } : { z: zFit(l.usedEnd), start: 0 },
        l.maxPfn,
      ),
    );
    if (!restore) setSelected(undefined);
    setSelectedPid(undefined);
    setVersion((v) => v + 1);
  };

  const pick = async (name: string, restore = false) => {
    setScenario(name);
    setEdited(false);
    const res = await fetch(`examples/${name}`);
    if (!res.ok) return setError(`examples/${name}: ${res.status}`);
    const yaml = await res.text();
    setText(yaml);
    await run(yaml, name, restore);
  };

  useEffect(() => {
    void (async () => {
      const list = (await (await fetch('examples/')).json()) as string[];
      setExamples(list);
      await pick(initial.current.scenario ?? DEFAULT_SCENARIO, true);
      probe.ready = true;
    })().catch((e) => setError(String(e)));
  }, []);

  const goStep = async (n: number) => {
    if (!loaded?.ok) return;
    const s = Math.max(0, Math.min(loaded.steps.length, n));
    if (s === target.current) return;
    target.current = s;
    const { step: at } = await client.call('goto', { step: s });
    // Answers arrive in order; only the last one asked for is shown.
    if (at !== target.current) return;
    setStep(at);
    setVersion((v) => v + 1);
  };

  // After every step: the processes (a walk shown belonged to the step before).
  useEffect(() => {
    if (!loaded?.ok) return;
    void client.call('procs', {}).then(setProcs);
    setWalk('');
  }, [version]);

  // The frame under the pointer, else the selected one: who maps it.
  const focusPfn = hovered ?? selected;
  useEffect(() => {
    if (!loaded?.ok || focusPfn === undefined) return setFocus(undefined);
    client.call('mappings', { pfn: focusPfn }).then(
      (mappings) => setFocus({ pfn: focusPfn, mappings }),
      () => setFocus(undefined),
    );
  }, [version, focusPfn]);

  // The selected process: every frame it maps, outlined on the map.
  useEffect(() => {
    if (!loaded?.ok || selectedPid === undefined) return setProcFrames(undefined);
    client.call('procFrames', { pid: selectedPid }).then(setProcFrames, () => setProcFrames(undefined));
  }, [version, selectedPid]);

  const source = useMemo<MapSource | null>(
    () =>
      loaded?.ok
        ? {
            maxPfn: loaded.maxPfn,
            palette: TYPE_PALETTE,
            hint: 'hover a frame (its mappings light up under Processes); click it for dump_page(); wheel to zoom, drag to pan',
            cells: (start, fpc, count) => client.call('cells', { start, fpc, count }),
            describe: async (pfn) => {
              const i = await client.call('info', { pfn });
              return `pfn 0x${i.pfn.toString(16)} · ${i.type} · order ${i.order}`;
            },
          }
        : null,
    [loaded],
  );

  // After every step or click: the selected frame's dump_page().
  useEffect(() => {
    if (!loaded?.ok) return;
    if (selected !== undefined)
      client.call('dump', { pfn: selected }).then(setDump, (e: Error) => setDump(e.message));
    else setDump('');
  }, [version, selected]);

  // Debounced: browsers throttle history.replaceState when a drag calls it on every frame.
  useEffect(() => {
    const t = window.setTimeout(
      () =>
        writeUrl({
          tab,
          scenario: edited ? undefined : scenario,
          step,
          pfn: selected,
          z: view.z,
          start: view.start,
        }),
      150,
    );
    return () => window.clearTimeout(t);
  }, [tab, scenario, edited, step, selected, view]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && (t as HTMLInputElement).type !== 'range'))
        return;
      if (tab === 'snapshot') return;
      if (e.key === 'ArrowRight') void goStep(target.current + 1);
      else if (e.key === 'ArrowLeft') void goStep(target.current - 1);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const onText = (t: string) => {
    setText(t);
    setEdited(true);
    window.clearTimeout(parseTimer.current);
    parseTimer.current = window.setTimeout(() => {
      void client.call('parse', { text: t, file: scenario }).then(setProblems);
    }, 200);
  };

  return (
    <div class="app">
      <header>
        <h1>pagelab</h1>
        <nav class="tabs">
          {TABS.map((t) => (
            <button
              type="button"
              key={t}
              data-testid={`tab-${t}`}
              class={t === tab ? 'active' : ''}
              onClick={() => setTab(t)}
            >
              {t}
            </button>
          ))}
        </nav>
        <span class="muted" hidden={tab === 'snapshot'}>
          {loaded?.name ?? ''} {loaded?.ok ? `· ${loaded.memory} · run ${loaded.runMs.toFixed(0)} ms` : ''}
        </span>
        {error && <span class="error">{error}</span>}
      </header>
      <main>
        {tab === 'snapshot' ? (
          <CaptureView client={client} />
        ) : (
          <>
            <div class="left">
              <Editor
                examples={examples}
                scenario={scenario}
                edited={edited}
                text={text}
                problems={problems}
                onPick={(n) => void pick(n)}
                onText={onText}
                onRun={() => void run(text, scenario)}
                onDropFile={(name, yaml) => {
                  setScenario(name);
                  setEdited(true);
                  setText(yaml);
                  void run(yaml, name);
                }}
              />
              {loaded?.ok && <Timeline loaded={loaded} step={step} onStep={(n) => void goStep(n)} />}
            </div>
            <div class="right">
              {tab === 'designs' && loaded?.ok && <Designs client={client} version={version} />}
              {tab === 'scenario' && source && (
                <Heatmap
                  source={source}
                  version={version}
                  view={view}
                  onView={setView}
                  selected={selected}
                  onSelect={setSelected}
                  marks={procFrames?.frames}
                  shared={procFrames?.shared}
                  onHover={setHovered}
                  onPainted={() => {
                    if (probe.runStarted) probe.firstRenderMs = performance.now() - probe.runStarted;
                    probe.runStarted = 0;
                  }}
                />
              )}
              {tab === 'scenario' && dump && (
                <pre class="dump" data-testid="dump">
                  {dump}
                </pre>
              )}
              {tab === 'scenario' && loaded?.ok && (
                <Processes
                  procs={procs}
                  walk={walk}
                  onAddress={(pid, addr) =>
                    client.call('walk', { pid, addr }).then(setWalk, (e: Error) => setWalk(e.message))
                  }
                  focus={focus}
                  selected={procFrames}
                  onSelectProc={setSelectedPid}
                />
              )}
            </div>
          </>
        )}
      </main>
    </div>
  );
}
