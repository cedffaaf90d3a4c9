/**
 * pagelab's library API: `import { Machine } from 'pagelab'`.
 */
export { CHECK_LEVELS, type CheckLevel, InvariantViolation } from './check/invariants.js';
export type { Violation } from './check/violation.js';
export {
  DEVMEM_ORDERS,
  type DevmemCost,
  devmemCost,
  devmemTable,
  VMEMMAP_RESERVE_NR,
  vmemmapPagesPerFolio,
} from './designs/devmem.js';
export type { Census } from './designs/layout.js';
export {
  accountLayout,
  DESCRIPTOR_BYTES,
  LAYOUTS,
  type LayoutAccounting,
  type LayoutName,
  type TypeAccounting,
} from './designs/layout.js';
export { PFN_LOOKUPS, type PfnLookupName } from './designs/pfnlookup.js';
export { PIN_DESIGNS, type PinDesign, UNSAFE_PIN_DESIGNS } from './designs/pincount.js';
export { MachineBase } from './machine/base.js';
export type { CompactReport, CompactRequest, MemoryFailureRequest } from './machine/compaction.js';
export {
  ConfigError,
  InputError,
  type MachineConfig,
  type RamRange,
  type ResolvedConfig,
  resolveConfig,
  type ThpConfig,
} from './machine/config.js';
export {
  type Branded,
  type FolioId,
  formatId,
  type PagemapId,
  type PinHandle,
  type PtdescId,
} from './machine/ids.js';
export { Machine } from './machine/machine.js';
export {
  canonical,
  decodeFlagsWord,
  directMapAddress,
  flagsWord,
  pageAddress,
  type StructPage,
} from './machine/struct_page.js';
export type {
  BuddyInfo,
  DeviceDriver,
  DeviceFault,
  DevicePageInfo,
  DevicePagemapInfo,
  DriverContext,
  GupResult,
  Meminfo,
  MmapRequest,
  MremapOptions,
  PageInfo,
  ProcessInfo,
  SwapEntryInfo,
  TranslationInfo,
  UffdInfo,
  UffdMessage,
  VmaInfo,
  VmallocPageInfo,
  WalkStep,
  ZoneInfo,
} from './machine/types.js';
export {
  FOLL_NAMES,
  MADV_NAMES,
  MAP_NAMES,
  MREMAP_NAMES,
  PROT_NAMES,
  parseAdvice,
  parseFollFlags,
  parseMapFlags,
  parseMremapFlags,
  parseProt,
  parseUffdFeatures,
  THP_MODES,
  UFFD_FEATURE_NAMES,
} from './machine/uapi.js';
export type { CompactOutcome, CompactResult, CompactSkip } from './mm/compaction.js';
export { GUP_PIN_COUNTING_BIAS, PG } from './mm/folio.js';
export type { ThpSizeMode } from './mm/huge_mm.js';
export type { ThpMode } from './mm/kernel.js';
export { MT, MT_NAMES } from './mm/memdesc.js';
export type { MfFlagName, MfOutcome, MfPageType, MfResult, MfSignal } from './mm/memory-failure.js';
export type { MemmapMode } from './mm/memremap.js';
export type { VmFaultResult } from './mm/mm_types.js';
export {
  GFP,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  MIGRATE,
  MIGRATE_NAMES,
  type PfnRange,
  ZONE,
  ZONE_NAMES,
} from './mm/mmzone.js';
export type { InsertPagesResult, MmapLock } from './mm/pfnmap.js';
export type { PinScore } from './mm/pincount.js';
export { formatHandle } from './mm/pool.js';
export type { SlabInfoRow } from './mm/slab.js';
export {
  type BugContext,
  ERRNO,
  type Errno,
  type FlagTable,
  formatFlags,
  formatSize,
  KernelBug,
  KernelError,
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  parseSize,
} from './mm/types.js';
export type { AccessResult, UserData } from './mm/uaccess.js';
export type { EventListener, MmEvent, VmEvent, VmStat } from './mm/vmstat.js';
export { type ScenarioReport, scenarioReport } from './scenario/api.js';
export { type Diagnostic, formatDiagnostic, type Path, type Pos } from './scenario/diagnostics.js';
export { type X86WalkStep, x86Walk } from './scenario/explain.js';
export { runText } from './scenario/format.js';
export type { Binding, Labels, StaticLabel } from './scenario/labels.js';
export { type ParseResult, parseScenario, type Scenario, type Step } from './scenario/parse.js';
export type { BuiltSection } from './scenario/report.js';
export {
  type RunFailure,
  type RunOptions,
  type RunResult,
  runScenario,
  type StepRecord,
} from './scenario/run.js';
export { scenarioJsonSchema } from './scenario/schema.js';
export type { At, Binds, Failure, Op, RunContext, StaticContext, StepOutcome } from './scenario/step.js';
export { type AnalyseOptions, type Analysis, analyseCapture, analyseLive } from './snapshot/analyse.js';
export {
  type Classification,
  Classifier,
  classify,
  FRAME,
  FRAME_NAMES,
  type Frame,
  folioTotals,
  objectCount,
} from './snapshot/classify.js';
export type { Format as SnapshotFormat } from './snapshot/decompress.js';
export { SnapshotError } from './snapshot/errors.js';
export { kpfHex, kpfLongName } from './snapshot/kpageflags.js';
export {
  formatPageTypes,
  PageTypesCounter,
  type PageTypesRow,
  type PageTypesSummary,
  pageTypes,
} from './snapshot/page_types.js';
export { formatPfnMap, type PfnMap, pfnMap, pfnMapJson } from './snapshot/pfn_map.js';
export {
  type Price,
  type PriceRow,
  priceMemdesc,
  snapshotAccounting,
  snapshotCensus,
} from './snapshot/price.js';
export {
  type Companions,
  type ReadOptions,
  readLiveSnapshot,
  readSnapshot,
  type Snapshot,
  type SnapshotInfo,
} from './snapshot/read.js';
export { machineFromSnapshot, REPLAY_NOTES, type Replay, type ReplayConfig } from './snapshot/replay.js';
export { addSyntheticOwners, type OwnerOptions, type Owners } from './snapshot/replay_owners.js';
export { censusJson, formatCensus, formatPrice } from './snapshot/report.js';
export {
  type CaptureDir,
  type Manifest,
  type ManifestFile,
  openCaptureDir,
  type SaveOptions,
  saveCapture,
} from './snapshot/save.js';
