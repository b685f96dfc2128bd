/**
 * The upload page, server-rendered: it works without JavaScript, like the original's template
 * (a multipart form, field `file`), and /static/js/upload-page.js enhances it (drop anywhere, paste,
 * preview, size check, progress, the answer without a reload). A result page is the same page with
 * the result under the form, so the next upload is one step away and uses the same model.
 */
import type { ShownResult } from '../results/recent-results.ts';
import { esc, formatMegabytes } from './html.ts';
import { layout } from './layout.ts';
import { renderResult } from './result-view.ts';

export interface PageState {
  flashes?: string[];
  error?: string;
  result?: ShownResult;
  /** The result page after its report was stored. */
  reported?: boolean;
  /** The original's `/feedback` page after a report. */
  feedbackSaved?: boolean;
  models?: string[];
  /** The model the picker shows: the result's, else the default. */
  selectedModel?: string;
  maxUploadBytes?: number;
  /** MAX_PIXELS: an image over it is refused by the page before it is previewed or sent. */
  maxPixels?: number;
}

/** Example photos under /static/examples/ (public-domain pictures, see the README). */
const EXAMPLES: [file: string, alt: string][] = [
  ['cat.jpg', 'A tabby cat'],
  ['coffee.jpg', 'A cup of coffee'],
  ['rocket.jpg', 'A rocket on its launch pad'],
  ['astronaut.jpg', 'An astronaut'],
];

export { esc };

export { feedbackReport } from './result-view.ts';

function messages(state: PageState): string {
  // role=alert on the list itself would take its list role away from screen readers (axe: listitem).
  const flashes = state.flashes?.length ? `<div role="alert"><ul class="flashes">${state.flashes.map((f) => `<li>${esc(f)}</li>`).join('')}</ul></div>` : '';
  const error = state.error ? `<p class="error" role="alert">${esc(state.error)}</p>` : '';
  const saved = state.feedbackSaved ? `<p class="saved" role="status">Thank you: your report was saved for review.</p>` : '';
  // tabindex -1: after an action, the script moves the focus here when it holds a message.
  return `<div id="messages" tabindex="-1">${flashes}${error}${saved}</div>`;
}

function modelPicker(models: string[], selected: string | undefined): string {
  if (models.length < 2) return '';
  const options = models.map((m) => `<option value="${esc(m)}"${m === selected ? ' selected' : ''}>${esc(m)}</option>`).join('');
  return `<div class="field model-field"><label for="model">Model</label><select id="model" name="model">${options}</select></div>`;
}

function uploadForm(state: PageState): string {
  const limit = state.maxUploadBytes;
  const limitText = limit ? `, up to ${formatMegabytes(limit)}` : '';
  // The picker comes before the file: a form sends its fields in this order, so the service knows the
  // model even when it refuses the file, and the page shown again keeps it.
  return `<form class="upload" id="upload-form" method="post" action="/" enctype="multipart/form-data"${limit ? ` data-max-bytes="${limit}"` : ''}${state.maxPixels ? ` data-max-pixels="${state.maxPixels}"` : ''}>
${modelPicker(state.models ?? [], state.selectedModel)}<div class="drop-zone" id="drop-zone">
<img id="preview" class="preview" alt="Preview of the chosen image" hidden>
<label for="file" class="drop-label"><strong>Choose an image</strong><span class="js-only" hidden> or drop it anywhere on this page, or paste it</span></label>
<input id="file" type="file" name="file" accept="image/png,image/jpeg,image/gif,image/webp" required aria-describedby="file-help">
<p id="file-help" class="help">PNG, JPEG, GIF or WebP${esc(limitText)}</p>
</div>
<div class="actions"><button type="submit" id="submit">Upload and classify</button></div>
<div id="progress" class="progress" hidden><progress id="progress-bar" max="100" value="0" aria-label="Upload progress"></progress><span class="spinner" aria-hidden="true"></span><span id="progress-percent" class="progress-percent" aria-hidden="true"></span><span id="progress-text" role="status"></span><button type="button" id="cancel" class="secondary">Cancel</button></div>
</form>`;
}

/** Under a result too: trying the examples one after another should not need a trip back to the empty page. */
function examples(heading: string): string {
  const items = EXAMPLES.map(
    ([file, alt]) => `<li><button type="button" class="example" data-example="/static/examples/${file}"><img src="/static/examples/${file}" alt="" width="96" height="72" loading="lazy"><span>${esc(alt)}</span></button></li>`,
  ).join('');
  // Shown by the script: without JavaScript a button cannot hand a picture to the form.
  return `<section class="examples js-only" aria-labelledby="examples-title" hidden><h2 id="examples-title">${esc(heading)}</h2><ul>${items}</ul></section>`;
}

export function renderPage(state: PageState): string {
  const title = state.result ? `${state.result.predictions[0]?.label ?? 'Result'} · Image classifier` : 'Image classifier';
  const body = `<h1>What is in this picture?</h1>
<p class="lead">Upload a photo and the model tells you what it sees, in milliseconds.</p>
${messages(state)}
${uploadForm(state)}
<div id="result-slot">${state.result ? renderResult(state.result, { reported: state.reported === true }) + examples('Try another example') : examples('No picture at hand? Try one')}</div>`;
  return layout({ title, body, script: 'upload-page.js', current: 'classify' });
}

/** The link an error page offers. */
export interface WayBack {
  href: string;
  text: string;
}

export const TO_CLASSIFIER: WayBack = { href: '/', text: 'Go to the classifier' };
export const TO_REVIEW: WayBack = { href: '/feedback/review', text: 'Go to the review page' };

/** A page for an error that is not about an upload: 404 and the like, with a way back (the classifier unless told). */
export function renderErrorPage(status: number, message: string, back: WayBack = TO_CLASSIFIER): string {
  const heading = status === 404 ? 'Page not found' : status >= 500 ? 'The service could not answer' : 'This request cannot be served';
  const body = `<h1>${esc(heading)}</h1>
<p class="error" role="alert">${esc(message)}</p>
<p class="actions"><a class="button" href="${esc(back.href)}">${esc(back.text)}</a></p>`;
  return layout({ title: `${heading} · Image classifier`, body });
}
