import { describe, expect, it } from 'vitest';
import { ALL_SCOPES, grants } from '../auth/index.js';
import { canManageMembers, isOwnerOnly, isRole, ROLES, scopesOf } from './roles.js';

describe('roles', () => {
  it('map onto known scopes only', () => {
    for (const role of ROLES) for (const scope of scopesOf(role)) expect(ALL_SCOPES).toContain(scope);
  });

  it('give owner and admin everything, including members and keys', () => {
    for (const role of ['owner', 'admin'] as const)
      for (const scope of ALL_SCOPES) expect(grants(scopesOf(role), scope), `${role} ${scope}`).toBe(true);
  });

  it('let an editor build and send campaigns and automations and manage contacts, but not settings, keys or members', () => {
    const editor = scopesOf('editor');
    for (const scope of [
      'templates:write',
      'lists:write',
      'segments:write',
      'campaigns:write',
      'campaigns:send',
      'automations:write',
      'contacts:read',
      'contacts:write',
    ] as const)
      expect(grants(editor, scope), scope).toBe(true);
    for (const scope of ['admin', 'settings:write', 'users:read', 'users:write', 'messages:send'] as const)
      expect(grants(editor, scope), scope).toBe(false);
  });

  it('let an analyst read reports but no personal data', () => {
    const analyst = scopesOf('analyst');
    for (const scope of [
      'analytics:read',
      'campaigns:read',
      'automations:read',
      'segments:read',
      'templates:read',
      'engagement:read',
    ] as const)
      expect(grants(analyst, scope), scope).toBe(true);
    for (const scope of ['contacts:read', 'contacts:export', 'campaigns:write', 'lists:read'] as const)
      expect(grants(analyst, scope), scope).toBe(false);
  });

  it('let a viewer read but never write or export', () => {
    const viewer = scopesOf('viewer');
    expect(viewer.length).toBeGreaterThan(0);
    for (const scope of viewer) expect(scope.endsWith(':read'), scope).toBe(true);
    expect(grants(viewer, 'contacts:export')).toBe(false);
    expect(viewer).not.toContain('users:read');
    expect(viewer).not.toContain('metrics:read');
  });

  it('gives no role other than owner and admin a scope that manages keys, members or settings', () => {
    for (const role of ['editor', 'analyst', 'viewer'] as const)
      for (const scope of ['admin', 'users:write', 'settings:write'] as const)
        expect(grants(scopesOf(role), scope), `${role} ${scope}`).toBe(false);
  });

  it('leaves member management to admins and owners, and the owner role to owners', () => {
    expect(ROLES.filter(canManageMembers)).toEqual(['owner', 'admin']);
    expect(isOwnerOnly({ to: 'owner' })).toBe(true);
    expect(isOwnerOnly({ from: 'owner', to: 'admin' })).toBe(true);
    expect(isOwnerOnly({ from: 'editor', to: 'admin' })).toBe(false);
  });

  it('hands out copies, so a caller cannot change a role', () => {
    scopesOf('viewer').push('admin');
    expect(scopesOf('viewer')).not.toContain('admin');
  });

  it('recognizes role names', () => {
    expect(isRole('editor')).toBe(true);
    expect(isRole('superuser')).toBe(false);
  });
});
