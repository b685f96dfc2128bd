/**
 * The review page (admin): the reported images as a responsive grid of cards (prediction, the user's
 * label, model, time, review state), filters, a button per card to mark it reviewed, and the exports.
 * Works without JavaScript; /static/js/review-page.js submits filters on change and marks cards in place.
 */
import type { ListedReport } from '../feedback/report-record.ts';
import type { ReportFilter, ReviewList } from '../feedback/report-query.ts';
import { resultUrl } from '../results/result-url.ts';
import { esc, percent } from './html.ts';
import { layout } from './layout.ts';

/** The filter (and a page after the first) as a query string, empty values left out, for links and the way back after an action. */
export function filterQuery(filter: ReportFilter, page = 1): string {
  const q = new URLSearchParams();
  if (filter.model) q.set('model', filter.model);
  if (filter.prediction) q.set('prediction', filter.prediction);
  if (filter.status) q.set('status', filter.status);
  if (page > 1) q.set('page', String(page));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export interface ReviewPage {
  /** 1 for the newest reports. */
  number: number;
  /** Cards per page. */
  size: number;
}

/** Pages the matching reports fill (1 when none match). */
const pagesOf = (list: ReviewList, page: ReviewPage): number => Math.max(1, Math.ceil(list.matched / page.size));

/** What the page shows of the matching reports, in words. */
function countText(list: ReviewList, page: ReviewPage): string {
  const n = list.matched;
  const plural = n === 1 ? '' : 's';
  if (n === 0) return 'No reports match.';
  const pages = pagesOf(list, page);
  if (list.reports.length === 0) return `No reports on page ${page.number}: ${n} matching report${plural} fill ${pages} page${pages === 1 ? '' : 's'}.`;
  if (list.reports.length === n) return `Showing the ${n} matching report${plural}, newest first.`;
  const first = (page.number - 1) * page.size + 1;
  return `Showing reports ${first}–${first + list.reports.length - 1} of ${n} matching, newest first.`;
}

/** Links to the newer and older pages, when there are any (from beyond the last page, newer is the last). */
function pageLinks(list: ReviewList, filter: ReportFilter, page: ReviewPage): string {
  const link = (to: number, rel: string, text: string) => `<a class="button secondary" href="/feedback/review${esc(filterQuery(filter, to))}" rel="${rel}">${text}</a>`;
  const pages = pagesOf(list, page);
  const newer = page.number > 1 ? link(Math.min(page.number - 1, pages), 'prev', 'Newer reports') : '';
  const older = page.number < pages ? link(page.number + 1, 'next', 'Older reports') : '';
  return newer || older ? `<nav class="exports" aria-label="Pages of reports">${newer}${older}</nav>` : '';
}

function select(name: string, label: string, all: string, values: string[], selected: string | undefined, text = (v: string) => v): string {
  // A selected value no longer among the choices stays selectable, so the filter shown is the one applied.
  const choices = selected && !values.includes(selected) ? [selected, ...values] : values;
  const options = choices.map((v) => `<option value="${esc(v)}"${v === selected ? ' selected' : ''}>${esc(text(v))}</option>`).join('');
  return `<div class="field"><label for="filter-${name}">${label}</label><select id="filter-${name}" name="${name}"><option value="">${all}</option>${options}</select></div>`;
}

const time = (iso: string) => `<time datetime="${esc(iso)}">${esc(iso.slice(0, 16).replace('T', ' '))} UTC</time>`;

function card(r: ListedReport, back: string, absent: ReadonlySet<string>): string {
  // Without a prediction the image is only what it is: "Reported image, a report" read as a mistake.
  const alt = r.prediction ? `Reported image, predicted ${r.prediction}` : 'Reported image';
  const thumb = r.image && absent.has(r.image)
    ? `<p class="thumb no-image">Image not stored here: <code>${esc(r.image)}</code></p>`
    : r.image
    ? `<a class="thumb" href="${esc(r.model ? resultUrl(r.image, r.model) : `/static/uploads/${r.image}`)}"><img src="/static/uploads/${esc(r.image)}" alt="${esc(alt)}" loading="lazy"></a>`
    : `<p class="thumb no-image">No image</p>`;
  const rows: [string, string][] = [
    ['Predicted', r.prediction ? `${esc(r.prediction)}${r.score !== undefined ? ` <span class="muted">${percent(r.score)}</span>` : ''}` : '<span class="muted">unknown</span>'],
    ['User says', r.label ? `<strong>${esc(r.label)}</strong>` : '<span class="muted">no label given</span>'],
    ['Model', r.model ? `${esc(r.model)}${r.modelVersion ? ` <span class="muted">v${esc(r.modelVersion)}</span>` : ''}` : '<span class="muted">unknown</span>'],
    ['Reported', time(r.time)],
  ];
  const text = r.image ? '' : `<p class="report-text"><code>${esc(r.report)}</code></p>`;
  const state = r.reviewed ? '<span class="badge done">Reviewed</span>' : '<span class="badge">To review</span>';
  // Every card's button said the same: a screen reader's list of buttons or headings could not tell which
  // report each was for (WCAG 2.4.6). The card has a heading, and its button names the report.
  const which = `${r.prediction ? `predicted ${r.prediction}` : 'prediction unknown'}, ${r.label ? `user says ${r.label}` : 'no label given'}, reported ${r.time.slice(0, 16).replace('T', ' ')} UTC`;
  return `<li class="card" id="report-${esc(r.id)}">${thumb}<div class="card-body"><h2 class="visually-hidden">Report: ${esc(which)}</h2>${state}
<dl>${rows.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>${text}
<form method="post" action="/feedback/review/mark" class="mark"><input type="hidden" name="id" value="${esc(r.id)}"><input type="hidden" name="reviewed" value="${r.reviewed ? '0' : '1'}"><input type="hidden" name="back" value="${esc(back)}"><button type="submit" class="secondary">${r.reviewed ? 'Mark as not reviewed' : 'Mark reviewed'}<span class="visually-hidden">: ${esc(which)}</span></button></form>
</div></li>`;
}

/** `absent`: images the reports name that the upload folder does not hold. */
export function renderReviewPage(list: ReviewList, filter: ReportFilter, page: ReviewPage, absent: ReadonlySet<string> = new Set()): string {
  const q = filterQuery(filter);
  const status = { reviewed: 'Reviewed', unreviewed: 'To review' } as Record<string, string>;
  const count = countText(list, page);
  const older = list.complete ? '' : ' Only the newest entries of the report log were read; use the exports for all of them.';
  const body = `<h1>Reported predictions</h1>
<p class="lead">What users said the model got wrong. Mark what you have looked at; export the labelled images to retrain.</p>
<div id="messages" tabindex="-1"></div>
<form class="filters" id="filters" method="get" action="/feedback/review">
${select('model', 'Model', 'All models', list.models, filter.model)}
${select('prediction', 'Predicted class', 'All classes', list.predictions, filter.prediction)}
${select('status', 'Status', 'All', ['unreviewed', 'reviewed'], filter.status, (v) => status[v] ?? v)}
<button type="submit">Apply filters</button>
</form>
<div class="exports"><span>Export ${q ? 'the filtered' : 'all'} reports:</span>
<a class="button secondary" href="/feedback/export.csv${esc(q)}" download>CSV</a>
<a class="button secondary" href="/feedback/export.jsonl${esc(q)}" download>JSONL</a>
<a class="button secondary" href="/feedback/dataset.tar${esc(q)}" download>Dataset (.tar)</a></div>
<p id="review-count" role="status" tabindex="-1">${esc(count + older)}</p>
<ul class="cards" id="reports">${list.reports.map((r) => card(r, filterQuery(filter, page.number), absent)).join('')}</ul>
${pageLinks(list, filter, page)}`;
  return layout({ title: 'Reported predictions · Image classifier', body, script: 'review-page.js', current: 'review', wide: true });
}
