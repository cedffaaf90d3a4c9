/**
 * Page references: how a step names one page frame.
 *
 *   page: buf                     a label naming memory (its first frame)
 *   page: { label: buf, index: 3 } the fourth frame of what the label names
 *   page: { pfn: 0x1234 }          a frame by number
 *   page: { proc: p, addr: buf }   the frame a process address maps (with processes)
 *
 * A new way of naming a page is one more form in PAGE_REF_FORMS.
 */
import { z } from 'zod';
import { PAGE_SIZE } from '../mm/types.js';
import { type Path, ScenarioInputError } from './diagnostics.js';
import { hex, labelName, uint } from './fields.js';
import { definePageRefForm, type PageRefForm, type ResolvedPage } from './page_ref_form.js';
import type { RunContext, StaticContext } from './step.js';
import { userAddressPageRef } from './user_page_ref.js';

const isObjectWith = (key: string) => (ref: unknown) => typeof ref === 'object' && ref !== null && key in ref;

/** The frames a memory label names now. */
function framesOf(name: string, ctx: RunContext): { pfn: number; count: number } {
  const b = ctx.labels.get(name);
  return b.frames!(ctx.m);
}

const byLabel = definePageRefForm({
  schema: labelName(),
  is: (ref) => typeof ref === 'string',
  analyse: (ref, path, ctx) => void ctx.use(ref, 'memory', path),
  resolve: (ref, ctx) => ({ pfn: framesOf(ref, ctx).pfn, name: ref }),
});

const byLabelIndex = definePageRefForm({
  schema: z.strictObject({ label: labelName(), index: uint('a page index') }),
  is: isObjectWith('label'),
  analyse: (ref, path, ctx) => void ctx.use(ref.label, 'memory', [...path, 'label']),
  resolve: (ref, ctx, path) => {
    const f = framesOf(ref.label, ctx);
    if (ref.index >= f.count)
      throw new ScenarioInputError(
        `index ${ref.index} is past the end of ${ref.label} (${f.count} page${f.count === 1 ? '' : 's'})`,
        [...path, 'index'],
      );
    return { pfn: f.pfn + ref.index, name: `${ref.label}[${ref.index}]` };
  },
});

const byPfn = definePageRefForm({
  schema: z.strictObject({ pfn: uint('a page frame number') }),
  is: isObjectWith('pfn'),
  analyse: (ref, path, ctx) => {
    const frames = ctx.config.memory / PAGE_SIZE;
    if (ref.pfn >= frames)
      ctx.error(
        [...path, 'pfn'],
        `pfn ${hex(ref.pfn)} is past the last frame ${hex(frames - 1)} of this machine`,
      );
  },
  resolve: (ref) => ({ pfn: ref.pfn, name: `pfn ${hex(ref.pfn)}` }),
});

/** Every way of naming a page; the first whose `is` accepts a reference handles it. */
const PAGE_REF_FORMS: readonly PageRefForm[] = [byLabel, byLabelIndex, byPfn, userAddressPageRef];

const FORMS_TEXT = 'a label, {label: NAME, index: N}, {pfn: N} or {proc: P, addr: A}';

/** One schema object, so `pagelab schema` can define it once and refer to it. */
export const pageRef = z
  .union(
    PAGE_REF_FORMS.map((f) => f.schema),
    { error: `expected a page: ${FORMS_TEXT}` },
  )
  .meta({ id: 'page', description: `a page: ${FORMS_TEXT}` });

export type PageRef = z.output<typeof pageRef>;

function formOf(ref: unknown): PageRefForm {
  const form = PAGE_REF_FORMS.find((f) => f.is(ref));
  if (!form) throw new Error(`page reference ${JSON.stringify(ref)} matches no form`);
  return form;
}

/** Static checks of a page reference at `path` (relative to the step). */
export function analysePageRef(ref: PageRef, path: Path, ctx: StaticContext): void {
  formOf(ref).analyse(ref, path, ctx);
}

/** The frame a page reference names now. */
export function resolvePage(ref: PageRef, ctx: RunContext, path: Path): ResolvedPage {
  return formOf(ref).resolve(ref, ctx, path);
}

/** `buf (pfn 0x1234)`, or just `pfn 0x1234`. */
export function pageName(p: ResolvedPage): string {
  return p.name.startsWith('pfn ') ? p.name : `${p.name} (pfn ${hex(p.pfn)})`;
}
