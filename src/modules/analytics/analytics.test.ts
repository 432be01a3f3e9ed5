import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../lib/ids.js';
import { uuidv7Floor } from './analytics.rollup.js';
import { formatAmount } from './analytics.service.js';

describe('formatAmount', () => {
  it('shows the currency minor digits and no further trailing zeros', () => {
    expect(formatAmount('10.500000', 'EUR')).toBe('10.50');
    expect(formatAmount('10', 'USD')).toBe('10.00');
    expect(formatAmount('0.250001', 'EUR')).toBe('0.250001');
    expect(formatAmount('300.000000', 'JPY')).toBe('300');
    expect(formatAmount('1.5', 'BHD')).toBe('1.500');
    expect(formatAmount('-0.050000', 'EUR')).toBe('-0.05');
    expect(formatAmount('-0.000000', 'EUR')).toBe('0.00');
    expect(formatAmount('007.10', 'EUR')).toBe('7.10');
  });
});

describe('uuidv7Floor', () => {
  it('sorts below every id of its millisecond and above every earlier one', () => {
    const ms = Date.UTC(2026, 0, 1, 12);
    const floor = uuidv7Floor(ms);
    expect(floor).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7000-8000-000000000000$/);
    expect(uuidv7(ms) >= floor).toBe(true);
    expect(uuidv7Floor(ms - 1) < floor).toBe(true);
    expect(uuidv7Floor(ms + 1) > uuidv7(ms)).toBe(true);
  });
});
