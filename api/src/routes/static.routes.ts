/**
 * The api's own files under /static/ (style sheet, icon, the pages' compiled scripts, example
 * photos), from api/public, read once at start, one route per file: nothing on disk is looked up
 * from a request's path, so no path can reach outside that folder. Stored uploads are served by page.routes.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

// api/public sits beside src/ and dist/, so the same relative path works from the sources and the build.
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  jpg: 'image/jpeg',
  png: 'image/png',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  /** Scripts and styles change with a release: the browser revalidates them (a 304 costs nothing). */
  cacheControl: string;
}

function readPublic(dir: string, prefix = ''): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      for (const [k, v] of readPublic(path, `${prefix}${name}/`)) files.set(k, v);
      continue;
    }
    const type = TYPES[name.slice(name.lastIndexOf('.') + 1)];
    if (!type) continue;
    const body = readFileSync(path);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    const revalidate = type.startsWith('text/');
    files.set(`${prefix}${name}`, { body, type, etag, cacheControl: revalidate ? 'no-cache' : 'public, max-age=86400' });
  }
  return files;
}

/**
 * If-None-Match as RFC 9110 §13.1.2 reads it: `*`, or a list of tags compared weakly (`W/"x"` matches
 * `"x"`). Only an exact single tag got a 304 before, so a proxy's weakened tag or a list re-sent the file.
 */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

export async function staticRoutes(app: FastifyInstance): Promise<void> {
  const files = readPublic(PUBLIC_DIR);
  if (!files.has('js/upload-page.js')) {
    app.log.warn({ dir: PUBLIC_DIR }, 'the pages\' scripts are not built (npm run build): the pages work without them');
  }

  // One route per file: any other path under /static/ is simply not found (and /static/uploads/ keeps its own route).
  for (const [path, file] of files) {
    // Not counted by RATE_LIMIT_PER_MINUTE: one page load fetches several of these.
    app.get(`/static/${path}`, { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
      reply.header('etag', file.etag).header('cache-control', file.cacheControl);
      if (matchesEtag(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
      return reply.type(file.type).send(file.body);
    });
  }

  // Browsers ask for /favicon.ico by themselves; the pages name the SVG icon.
  app.get('/favicon.ico', { schema: { hide: true }, config: { rateLimit: false } }, async (_request, reply) => reply.redirect('/static/favicon.svg', 301));
}
