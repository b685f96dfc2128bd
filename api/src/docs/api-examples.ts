/**
 * Copyable examples for the two prediction routes, in the three ways people call them: curl, Python
 * `requests` and JavaScript `fetch`. Added to the OpenAPI document that /docs renders, both as
 * Markdown in the route's description (Swagger UI shows it) and as `x-codeSamples` (the vendor
 * extension that Redoc and other renderers show as tabs).
 */

interface CodeSample {
  lang: string;
  label: string;
  source: string;
}

function samples(base: string, path: '/predict' | '/v1/predict'): CodeSample[] {
  const query = path === '/v1/predict' ? '?top_k=3' : '';
  const answer =
    path === '/predict'
      ? "{'success': True, 'prediction': 'Neutral', 'score': 0.9552}"
      : "r.json()['predictions']: [{'label': 'Neutral', 'score': 0.955...}, ...]";
  return [
    { lang: 'shell', label: 'curl', source: `curl -s -F file=@photo.jpg '${base}${path}${query}'` },
    {
      lang: 'python',
      label: 'Python requests',
      source: [
        'import requests',
        '',
        'with open("photo.jpg", "rb") as f:',
        `    r = requests.post("${base}${path}${query}", files={"file": f}, timeout=30)`,
        'r.raise_for_status()',
        `print(r.json())  # ${answer}`,
      ].join('\n'),
    },
    {
      lang: 'javascript',
      label: 'JavaScript fetch',
      source: [
        "import { openAsBlob } from 'node:fs'; // in a browser: the File from an <input type=\"file\">",
        '',
        'const form = new FormData();',
        "form.append('file', await openAsBlob('photo.jpg'), 'photo.jpg');",
        `const r = await fetch('${base}${path}${query}', { method: 'POST', body: form });`,
        'console.log(await r.json());',
      ].join('\n'),
    },
  ];
}

const fence = (s: CodeSample) => `**${s.label}**\n\n\`\`\`${s.lang === 'shell' ? 'sh' : s.lang}\n${s.source}\n\`\`\``;

interface Operation {
  description?: string;
  'x-codeSamples'?: CodeSample[];
}
interface OpenApiDoc {
  info?: { description?: string };
  paths?: Record<string, Record<string, Operation>>;
}

/** Adds the examples, with `base` (this service's address as the browser sees it), to the document. */
export function withExamples<T extends OpenApiDoc>(doc: T, base: string): T {
  if (doc.info) doc.info.description = `${doc.info.description ?? ''}\n\n[← Back to the classifier](/) · [The OpenAPI document](/openapi.json)`;
  for (const path of ['/predict', '/v1/predict'] as const) {
    const op = doc.paths?.[path]?.post;
    if (!op) continue;
    const list = samples(base, path);
    op['x-codeSamples'] = list;
    op.description = [op.description, '### Examples', ...list.map(fence)].filter(Boolean).join('\n\n');
  }
  return doc;
}
