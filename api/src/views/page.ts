/**
 * The upload page, server-rendered: works without JavaScript, like the original's template.
 * Every value that came from a user or a model goes through `esc`. Nothing inline: the style is
 * `/static/app.css`, so the Content-Security-Policy can forbid inline style and script.
 */
import type { Prediction } from '@icls/lib/job-contract';

export interface PageResult {
  filename: string;
  prediction: string;
  score: number;
  predictions: Prediction[];
  model: string;
  totalMs: number;
}

export interface PageState {
  flashes?: string[];
  error?: string;
  result?: PageResult;
  feedbackSaved?: boolean;
  models?: string[];
  defaultModel?: string;
}

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The hidden report of the original page: a Python-dict-looking string, kept byte for byte because
 * reviewers' scripts parse it.
 */
export function feedbackReport(r: Pick<PageResult, 'filename' | 'prediction' | 'score'>): string {
  return `{'filename': '${r.filename}', 'prediction': '${r.prediction}', 'score': ${r.score} }`;
}


export function renderPage(state: PageState): string {
  const flashes = state.flashes?.length
    ? `<ul class="flashes" role="status">${state.flashes.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`
    : '';
  const error = state.error ? `<p class="error" role="alert">${esc(state.error)}</p>` : '';
  const saved = state.feedbackSaved ? `<p class="saved" role="status">Thank you: your report was saved for review.</p>` : '';
  const models = state.models ?? [];
  const modelPicker =
    models.length > 1
      ? `<label>Model <select name="model">${models
          .map((m) => `<option value="${esc(m)}"${m === state.defaultModel ? ' selected' : ''}>${esc(m)}</option>`)
          .join('')}</select></label>`
      : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image classifier</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<main>
<h1>Image classifier</h1>
<p class="lead">Upload a PNG, JPEG, GIF or WebP image and the model tells you what it sees.</p>
${flashes}${error}${saved}
<form class="upload" method="post" action="/" enctype="multipart/form-data">
  <input type="file" name="file" accept="image/png,image/jpeg,image/gif,image/webp" required>
  ${modelPicker}
  <button type="submit">Upload and classify</button>
</form>
${state.result ? renderResult(state.result) : ''}
<p><small><a href="/feedback/review">Reported predictions</a> · <a href="/openapi.json">API (OpenAPI)</a></small></p>
</main>
</body>
</html>`;
}

function renderResult(r: PageResult): string {
  const rows = r.predictions
    .map(
      (p) =>
        `<tr><td>${esc(p.label)}</td><td class="bar"><meter min="0" max="1" value="${p.score}"></meter></td><td>${(p.score * 100).toFixed(1)}%</td></tr>`,
    )
    .join('');
  return `<section class="result" aria-label="Prediction">
  <img src="/display/${esc(r.filename)}" alt="The uploaded image">
  <div class="prediction">Predicted class: <span id="prediction">${esc(r.prediction)}</span></div>
  <div>Score: <span id="score">${esc(r.score)}</span></div>
  <table class="top">${rows}</table>
  <small>model ${esc(r.model)} · ${r.totalMs} ms</small>
  <form method="post" action="/feedback">
    <input type="hidden" name="report" value="${esc(feedbackReport(r))}">
    <button class="secondary" type="submit">Report wrong prediction</button>
  </form>
</section>`;
}

export function renderFeedbackReview(reports: string[]): string {
  const items = reports.length ? reports.map((r) => `<li><code>${esc(r)}</code></li>`).join('') : '<li>No reports yet.</li>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reported predictions</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>Reported predictions</h1><p class="lead">Newest first, as stored in the feedback file.</p>
<ol class="reports">${items}</ol><p><a href="/">Back to the classifier</a></p></main></body></html>`;
}
