import type { AdminAuthorizer } from '../admin/admin-server.js';
import type { PolicyManager } from './manager.js';

/**
 * Admin actions decided by the active bundle's `admin_decision`. Before any bundle is active there is
 * nothing to ask, and an authenticated operator may act (so the first bundle can be pushed).
 */
export function createAdminAuthorizer(manager: PolicyManager): AdminAuthorizer {
  return (principal, action, target) => {
    if (!manager.isReady()) return { allow: true };
    const decision = manager.decideAdmin({
      action,
      principal: { name: principal.name, roles: principal.roles ?? [] },
      ...(target ? { service: target } : {}),
    });
    if (decision.error !== undefined) return { allow: false, failed: true };
    return { allow: decision.allow, reason: decision.reason };
  };
}
