/**
 * A result: the image, the top classes as bars, the score as the original printed it, the model and
 * where the time went, a link to share, and the report form (the original's hidden report, plus what
 * the image really shows, with the model's classes as suggestions).
 */
import { roundScore } from '../routes/classify-upload.ts';
import type { ShownResult } from '../results/recent-results.ts';
import { resultUrl } from '../results/result-url.ts';
import { esc, formatMs, percent } from './html.ts';

/**
 * The hidden report of the original page: a Python-dict-looking string, kept byte for byte because
 * reviewers' scripts parse it.
 */
export function feedbackReport(r: { filename: string; prediction: string; score: number }): string {
  return `{'filename': '${r.filename}', 'prediction': '${r.prediction}', 'score': ${r.score} }`;
}

/** Bars shown; the other classes are only suggestions for the label. */
const BARS = 5;

function bars(r: ShownResult): string {
  return r.predictions
    .slice(0, BARS)
    .map(
      (p) =>
        // The bar's length is an SVG attribute: the Content-Security-Policy forbids inline style.
        `<li><span class="bar-label">${esc(p.label)}</span><svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="${Math.max(0.5, p.score * 100).toFixed(2)}" height="10"></rect></svg><span class="bar-value">${percent(p.score)}</span></li>`,
    )
    .join('');
}

function timings(r: ShownResult): string {
  const t = r.timings;
  // A cached answer's model timings are 0: say where it came from instead of showing a 0 ms model.
  if (r.cached) {
    const upload = t.uploadMs !== undefined ? ` (upload ${formatMs(t.uploadMs)})` : '';
    return `Answered in ${formatMs(t.totalMs)}${upload}, from the result cache: this model classified the same image earlier and did not run again`;
  }
  const parts = [
    t.uploadMs !== undefined ? `upload ${formatMs(t.uploadMs)}` : '',
    `queue ${formatMs(t.queueMs)}`,
    `preprocessing ${formatMs(t.preprocessMs)}`,
    `inference ${formatMs(t.inferenceMs)}`,
  ].filter(Boolean);
  return `Answered in ${formatMs(t.totalMs)} (${parts.join(', ')})`;
}

function reportForm(r: ShownResult, top: { label: string; score: number }): string {
  const suggestions = r.predictions.map((p) => `<option value="${esc(p.label)}"></option>`).join('');
  const report = feedbackReport({ filename: r.image, prediction: top.label, score: top.score });
  return `<form method="post" action="/feedback" class="report" id="report-form">
<input type="hidden" name="report" value="${esc(report)}">
<input type="hidden" name="image" value="${esc(r.image)}">
<input type="hidden" name="model" value="${esc(r.model)}">
<div class="field"><label for="label">Wrong? What does the image really show?</label>
<input id="label" name="label" list="label-suggestions" maxlength="200" autocomplete="off" placeholder="for example ${esc(r.predictions[1]?.label ?? top.label)}" aria-describedby="label-help">
<datalist id="label-suggestions">${suggestions}</datalist>
<p id="label-help" class="help">Optional. Suggestions are the model's classes; any text is fine.</p></div>
<button class="secondary" type="submit">Report wrong prediction</button>
</form>`;
}

export function renderResult(r: ShownResult, opts: { reported: boolean }): string {
  const best = r.predictions[0]!;
  const top = { label: best.label, score: roundScore(best.score) };
  const link = resultUrl(r.image, r.model);
  const feedback = opts.reported
    ? `<p class="saved" id="report-saved" role="status" tabindex="-1">Thank you: your report was saved for review.</p>`
    : reportForm(r, top);
  return `<section id="result" class="result" tabindex="-1" aria-labelledby="result-title">
<div class="result-image"><img src="/display/${esc(r.image)}" alt="The uploaded image"></div>
<div class="result-body">
<h2 id="result-title" class="prediction">Predicted class: <span id="prediction">${esc(top.label)}</span></h2>
<p class="score">Score: <span id="score">${esc(top.score)}</span></p>
<ol class="bars" aria-label="Most likely classes">${bars(r)}</ol>
<p class="meta">Model <strong>${esc(r.model)}</strong> version ${esc(r.modelVersion)}. ${esc(timings(r))}.</p>
<p class="share"><a id="result-link" href="${esc(link)}">Link to this result</a><button type="button" class="link-button js-only" id="copy-link" hidden>Copy link</button><span id="copy-status" class="muted" role="status"></span></p>
${feedback}
</div>
</section>`;
}
