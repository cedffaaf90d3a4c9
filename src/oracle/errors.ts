/** Why the oracle cannot run: user's and environment's reasons, each told in one line (CLI exit 2). */

/** The oracle cannot run here (not root, no /proc/kpageflags, no compiler, no probe source...). */
export class OracleUnavailable extends Error {}

/** Another oracle run on this host holds the lock on the sysfs knobs. */
export class OracleBusy extends OracleUnavailable {}

/**
 * The scenario is bad input for the model (a machine it cannot boot): found before the kernel side
 * runs or any knob changes, told as `file:line:col message`, CLI exit 2.
 */
export class OracleBadInput extends Error {}
