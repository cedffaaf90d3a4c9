/** The view in the URL — scenario, step, pfn, zoom and where the map starts — so it can be shared. */
export type Tab = 'scenario' | 'designs' | 'snapshot';
export const TABS: readonly Tab[] = ['scenario', 'designs', 'snapshot'];

export interface UrlState {
  /** The view shown; the scenario view when absent. */
  tab?: Tab;
  scenario?: string;
  step?: number;
  pfn?: number;
  z?: number;
  start?: number;
}

const num = (v: string | null): number | undefined => {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

export function readUrl(): UrlState {
  const q = new URLSearchParams(location.search);
  const tab = q.get('view') as Tab | null;
  return {
    tab: tab && TABS.includes(tab) ? tab : undefined,
    scenario: q.get('scenario') ?? undefined,
    step: num(q.get('step')),
    pfn: num(q.get('pfn')),
    z: num(q.get('z')),
    start: num(q.get('start')),
  };
}

export function writeUrl(s: UrlState): void {
  const q = new URLSearchParams();
  if (s.tab && s.tab !== 'scenario') q.set('view', s.tab);
  if (s.scenario) q.set('scenario', s.scenario);
  if (s.step !== undefined) q.set('step', String(s.step));
  if (s.pfn !== undefined) q.set('pfn', `0x${s.pfn.toString(16)}`);
  if (s.z !== undefined) q.set('z', String(s.z));
  if (s.start !== undefined && s.start !== 0) q.set('start', `0x${s.start.toString(16)}`);
  const next = `${location.pathname}?${q.toString()}`;
  if (next !== `${location.pathname}${location.search}`) history.replaceState(null, '', next);
}
