import { describe, expect, it } from 'vitest';
import { idleSessions } from '../../src/http/idle-sweep.js';

describe('idleSessions', () => {
  it('is the sessions with nothing in progress seen longer ago than the idle time', () => {
    const now = 10_000;
    const sessions = [
      { id: 'idle', lastSeen: 8_000, active: 0 },
      { id: 'busy', lastSeen: 1_000, active: 1 },
      { id: 'recent', lastSeen: 9_500, active: 0 },
      { id: 'exactly', lastSeen: 9_000, active: 0 },
    ];
    expect(idleSessions(sessions, 1_000, now).map((s) => s.id)).toEqual(['idle']);
  });
});
