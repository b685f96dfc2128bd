/**
 * The frame of every page: head (style sheet, icon), a header with the navigation, the page's
 * content, and its module script. Nothing inline, so the Content-Security-Policy can forbid inline
 * style and script; every page works without its script.
 */
import { esc } from './html.ts';

export interface LayoutOptions {
  title: string;
  /** Main content, already escaped HTML. */
  body: string;
  /** A module in /static/js/ that enhances the page (the page works without it). */
  script?: string;
  /** The navigation entry of this page, marked as the current one. */
  current?: 'classify' | 'review' | 'docs';
  /** Wider content area (the review grid). */
  wide?: boolean;
}

const NAV: [LayoutOptions['current'], string, string][] = [
  ['classify', '/', 'Classify'],
  ['review', '/feedback/review', 'Review reports'],
  ['docs', '/docs', 'API'],
];

export function layout(o: LayoutOptions): string {
  const nav = NAV.map(([key, href, text]) => `<a href="${href}"${key === o.current ? ' aria-current="page"' : ''}>${text}</a>`).join('');
  const script = o.script ? `\n<script type="module" src="/static/js/${esc(o.script)}"></script>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${esc(o.title)}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">${script}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site"><a class="brand" href="/"><img src="/static/favicon.svg" alt="" width="28" height="28"><span>Image classifier</span></a>
<nav aria-label="Main">${nav}</nav></header>
<main id="main" tabindex="-1"${o.wide ? ' class="wide"' : ''}>
${o.body}
</main>
</body>
</html>`;
}
