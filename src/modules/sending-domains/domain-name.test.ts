import { describe, expect, it } from 'vitest';
import { isWithin, organizationalDomain } from './domain-name.js';

describe('organizationalDomain', () => {
  it('takes the last two labels, or three under common country second levels', () => {
    expect(organizationalDomain('example.com')).toBe('example.com');
    expect(organizationalDomain('mail.news.example.com')).toBe('example.com');
    expect(organizationalDomain('shop.example.co.uk')).toBe('example.co.uk');
    expect(organizationalDomain('example.com.au')).toBe('example.com.au');
    expect(organizationalDomain('mail.example.de')).toBe('example.de');
    // Not a known second level: two labels.
    expect(organizationalDomain('mail.example.io')).toBe('example.io');
  });

  it('tells a subdomain from a look-alike', () => {
    expect(isWithin('shop.example.com', 'example.com')).toBe(true);
    expect(isWithin('example.com', 'example.com')).toBe(true);
    expect(isWithin('badexample.com', 'example.com')).toBe(false);
  });
});
