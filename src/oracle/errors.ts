/** Why the oracle cannot run: user's and environment's reasons, each told in one line (CLI exit 2). */

/** The oracle cannot run here (not root, no /proc/kpageflags, no compiler, no probe source...). */
export class OracleUnavailable extends Error {}

/** Another oracle run on this host holds the lock on the sysfs knobs. */
export class OracleBusy extends OracleUnavailable {}
