/**
 * pagelab's library API: `import { Machine } from 'pagelab'`.
 */
export { CHECK_LEVELS, type CheckLevel, InvariantViolation } from './check/invariants.js';
export { type DevmemCost, devmemCost, devmemTable } from './designs/devmem.js';
export {
  accountLayout,
  DESCRIPTOR_BYTES,
  LAYOUTS,
  type LayoutAccounting,
  type LayoutName,
} from './designs/layout.js';
export { PIN_DESIGNS, type PinDesign, UNSAFE_PIN_DESIGNS } from './designs/pincount.js';
export { MachineBase } from './machine/base.js';
export {
  ConfigError,
  InputError,
  type MachineConfig,
  type ResolvedConfig,
  resolveConfig,
} from './machine/config.js';
export { Machine } from './machine/machine.js';
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
  PageInfo,
  ProcessInfo,
  TranslationInfo,
  VmaInfo,
  VmallocPageInfo,
  WalkStep,
  ZoneInfo,
} from './machine/types.js';
export {
  FOLL_NAMES,
  MADV_NAMES,
  MAP_NAMES,
  PROT_NAMES,
  parseAdvice,
  parseFollFlags,
  parseMapFlags,
  parseProt,
  THP_MODES,
} from './machine/uapi.js';
export { GUP_PIN_COUNTING_BIAS, PG } from './mm/folio.js';
export { MT, MT_NAMES } from './mm/memdesc.js';
export {
  GFP,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  MIGRATE,
  MIGRATE_NAMES,
  ZONE,
  ZONE_NAMES,
} from './mm/page_alloc.js';
export {
  ERRNO,
  type Errno,
  formatFlags,
  formatSize,
  KernelBug,
  KernelError,
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  parseSize,
} from './mm/types.js';
export {
  type Classification,
  classify,
  FRAME,
  FRAME_NAMES,
  type Frame,
  folioTotals,
  objectCount,
} from './snapshot/classify.js';
export { SnapshotError } from './snapshot/errors.js';
export { kpfHex, kpfLongName } from './snapshot/kpageflags.js';
export { formatPageTypes, type PageTypesSummary, pageTypes } from './snapshot/page_types.js';
export { formatPfnMap, pfnMap, pfnMapJson } from './snapshot/pfn_map.js';
export { type Price, priceMemdesc, snapshotAccounting, snapshotCensus } from './snapshot/price.js';
export { readLiveSnapshot, readSnapshot, type Snapshot } from './snapshot/read.js';
export { machineFromSnapshot, REPLAY_NOTES, type Replay } from './snapshot/replay.js';
export { censusJson, formatCensus, formatPrice } from './snapshot/report.js';
