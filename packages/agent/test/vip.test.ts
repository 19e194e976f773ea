import { describe, expect, it } from 'vitest';
import { vipRuleset } from '@shoal/agent';

describe('vipRuleset', () => {
  it('spreads new connections to a VIP over its backends in turn', () => {
    const rules = vipRuleset([{ address: '10.0.5.100', backends: ['10.0.5.3', '10.0.5.2', '10.0.5.3'] }]);
    expect(rules).toContain('ip daddr 10.0.5.100 dnat to numgen inc mod 2 map { 0 : 10.0.5.2, 1 : 10.0.5.3 }');
  });

  it('sends a single-backend VIP straight to it, and refuses one without backends', () => {
    const rules = vipRuleset([
      { address: '10.0.5.101', backends: ['10.0.5.7'] },
      { address: '10.0.5.102', backends: [] },
    ]);
    expect(rules).toContain('ip daddr 10.0.5.101 dnat to 10.0.5.7');
    expect(rules).toMatch(/chain refuse \{[^}]*ip daddr 10\.0\.5\.102 reject/);
    expect(rules).not.toMatch(/10\.0\.5\.102 dnat/);
  });

  it('replaces the whole table in one transaction, and is the same text for the same VIPs', () => {
    const a = vipRuleset([{ address: '10.0.5.100', backends: ['10.0.5.2'] }, { address: '10.0.5.99', backends: ['10.0.5.4'] }]);
    const b = vipRuleset([{ address: '10.0.5.99', backends: ['10.0.5.4'] }, { address: '10.0.5.100', backends: ['10.0.5.2'] }]);
    expect(a).toBe(b);
    expect(a.split('\n').slice(0, 3)).toEqual(['table ip shoal_vip', 'delete table ip shoal_vip', 'table ip shoal_vip {']);
  });
});
