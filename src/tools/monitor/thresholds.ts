import { countText, XID_LIMIT } from './format.js';

/** Thresholds of the health checks, shown with each verdict. */
export const HEALTH = {
  connectionsWarn: 0.8,
  connectionsCritical: 0.95,
  cacheHitWarn: 0.95,
  cacheHitCritical: 0.9,
  /** Below this many block accesses a hit ratio says nothing. */
  cacheMinAccesses: 10_000,
  xidCriticalShare: 0.5,
  lockWaitWarnSeconds: 5,
  lockWaitCriticalSeconds: 60,
  replicationLagWarnBytes: 100 * 1024 * 1024,
  replicationLagCriticalBytes: 1024 * 1024 * 1024,
  standbyReplayWarnSeconds: 60,
  standbyReplayCriticalSeconds: 300,
  requestedCheckpointsWarn: 0.2,
  minCheckpoints: 10,
} as const;

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** Wraparound verdict of an age against autovacuum's freeze age and the 2^31 limit. */
export function wraparoundVerdict(age: number, freezeMaxAge: number): 'ok' | 'warn' | 'critical' {
  if (age >= XID_LIMIT * HEALTH.xidCriticalShare) return 'critical';
  if (age >= freezeMaxAge) return 'warn';
  return 'ok';
}

export function wraparoundThreshold(freezeMaxAge: number, what = 'autovacuum_freeze_max_age'): string {
  return `warn ≥ ${what} (${countText(freezeMaxAge)}), critical ≥ ${pct(HEALTH.xidCriticalShare)} of 2^31 (${countText(XID_LIMIT * HEALTH.xidCriticalShare)})`;
}
