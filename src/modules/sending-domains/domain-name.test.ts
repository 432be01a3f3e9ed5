import { describe, expect, it } from 'vitest';
import { isWithin, organizationalDomain, returnPathDomainProblem } from './domain-name.js';

describe('organizationalDomain', () => {
  it('is the registrable domain under the Public Suffix List', () => {
    expect(organizationalDomain('example.com')).toBe('example.com');
    expect(organizationalDomain('mail.news.example.com')).toBe('example.com');
    expect(organizationalDomain('a.b.c.d.example.com')).toBe('example.com');
    expect(organizationalDomain('Mail.Example.COM.')).toBe('example.com');
    expect(organizationalDomain('shop.example.co.uk')).toBe('example.co.uk');
    expect(organizationalDomain('example.co.uk')).toBe('example.co.uk');
    expect(organizationalDomain('bounces.shop.example.com.au')).toBe('example.com.au');
    expect(organizationalDomain('mail.example.de')).toBe('example.de');
    // Three-label public suffixes the old two-label rule did not know.
    expect(organizationalDomain('news.city.kawasaki.jp')).toBe('city.kawasaki.jp');
    expect(organizationalDomain('shop.example.pvt.k12.ma.us')).toBe('example.pvt.k12.ma.us');
  });

  it('knows private suffixes, so two customers of one host do not share an organizational domain', () => {
    expect(organizationalDomain('alice.github.io')).toBe('alice.github.io');
    expect(organizationalDomain('mail.alice.github.io')).toBe('alice.github.io');
    expect(organizationalDomain('bob.github.io')).toBe('bob.github.io');
    expect(organizationalDomain('shop.herokuapp.com')).toBe('shop.herokuapp.com');
  });

  it('falls back to the last two labels when the list gives no registrable domain', () => {
    // A public suffix itself.
    expect(organizationalDomain('github.io')).toBe('github.io');
    expect(organizationalDomain('co.uk')).toBe('co.uk');
    // A top-level domain the list does not know is one label, like any other.
    expect(organizationalDomain('mail.shop.test')).toBe('shop.test');
  });

  it('tells a subdomain from a look-alike', () => {
    expect(isWithin('shop.example.com', 'example.com')).toBe(true);
    expect(isWithin('example.com', 'example.com')).toBe(true);
    expect(isWithin('badexample.com', 'example.com')).toBe(false);
  });
});

describe('returnPathDomainProblem', () => {
  it('accepts the sending domain, its subdomains and names under its organizational domain', () => {
    expect(returnPathDomainProblem('bounces.news.example.com', 'news.example.com')).toBeUndefined();
    expect(returnPathDomainProblem('news.example.com', 'news.example.com')).toBeUndefined();
    expect(returnPathDomainProblem('bounces.example.com', 'news.example.com')).toBeUndefined();
    expect(returnPathDomainProblem('example.co.uk', 'shop.example.co.uk')).toBeUndefined();
  });

  it('refuses another organizational domain, naming the reason and a subdomain to use', () => {
    const problem = returnPathDomainProblem('bounces.other.com', 'news.example.com');
    expect(problem).toContain('does not share its organizational domain example.com');
    expect(problem).toContain('SPF');
    expect(problem).toContain('bounces.news.example.com');
    expect(returnPathDomainProblem('example.com', 'example.co.uk')).toBeDefined();
    // Siblings under a private suffix belong to different customers.
    expect(returnPathDomainProblem('bob.github.io', 'alice.github.io')).toBeDefined();
    // Under a public suffix, the look-alike of a registered name is another organization.
    expect(returnPathDomainProblem('other.co.uk', 'example.co.uk')).toBeDefined();
  });
});
