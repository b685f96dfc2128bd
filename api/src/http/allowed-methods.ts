/**
 * Which methods a path answers: a request with another method gets 405 and `Allow` (as the original's
 * Flask answered any route), not a 404 that says nothing is there. Learnt from the routes as they are
 * added; a path is matched against each route's pattern (`:param` one segment, `*` the rest).
 */
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route that only answers 405 (`GET /predict`, kept from the original): its method is not one the path allows. */
    methodNotAllowed?: boolean;
  }
}

interface KnownRoute {
  pattern: RegExp;
  methods: Set<string>;
}

export class AllowedMethods {
  private readonly routes = new Map<string, KnownRoute>();

  /** Call before any route is added. */
  learn(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      if ((route.config as { methodNotAllowed?: boolean } | undefined)?.methodNotAllowed) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      let known = this.routes.get(route.url);
      if (!known) {
        known = { pattern: patternOf(route.url), methods: new Set() };
        this.routes.set(route.url, known);
      }
      for (const m of methods) known.methods.add(m.toUpperCase());
    });
  }

  /** The methods some route answers at `path` (sorted), or none when no route has that path. */
  at(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: ms } of this.routes.values()) if (pattern.test(path)) for (const m of ms) methods.add(m);
    return [...methods].sort();
  }
}

function patternOf(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}
