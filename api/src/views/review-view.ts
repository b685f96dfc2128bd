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

/** The filter as a query string (empty values left out), for links and the way back after an action. */
export function filterQuery(filter: ReportFilter): string {
  const q = new URLSearchParams();
  if (filter.model) q.set('model', filter.model);
  if (filter.prediction) q.set('prediction', filter.prediction);
  if (filter.status) q.set('status', filter.status);
  const text = q.toString();
  return text ? `?${text}` : '';
}

function select(name: string, label: string, all: string, values: string[], selected: string | undefined, text = (v: string) => v): string {
  // A selected value no longer among the choices stays selectable, so the filter shown is the one applied.
  const choices = selected && !values.includes(selected) ? [selected, ...values] : values;
  const options = choices.map((v) => `<option value="${esc(v)}"${v === selected ? ' selected' : ''}>${esc(text(v))}</option>`).join('');
  return `<div class="field"><label for="filter-${name}">${label}</label><select id="filter-${name}" name="${name}"><option value="">${all}</option>${options}</select></div>`;
}

const time = (iso: string) => `<time datetime="${esc(iso)}">${esc(iso.slice(0, 16).replace('T', ' '))} UTC</time>`;

function card(r: ListedReport, back: string): string {
  const described = r.prediction ? `predicted ${r.prediction}` : 'a report';
  const thumb = r.image
    ? `<a class="thumb" href="${esc(r.model ? resultUrl(r.image, r.model) : `/static/uploads/${r.image}`)}"><img src="/static/uploads/${esc(r.image)}" alt="Reported image, ${esc(described)}" loading="lazy"></a>`
    : `<p class="thumb no-image">No image</p>`;
  const rows: [string, string][] = [
    ['Predicted', r.prediction ? `${esc(r.prediction)}${r.score !== undefined ? ` <span class="muted">${percent(r.score)}</span>` : ''}` : '<span class="muted">unknown</span>'],
    ['User says', r.label ? `<strong>${esc(r.label)}</strong>` : '<span class="muted">no label given</span>'],
    ['Model', r.model ? `${esc(r.model)}${r.modelVersion ? ` <span class="muted">v${esc(r.modelVersion)}</span>` : ''}` : '<span class="muted">unknown</span>'],
    ['Reported', time(r.time)],
  ];
  const text = r.image ? '' : `<p class="report-text"><code>${esc(r.report)}</code></p>`;
  const state = r.reviewed ? '<span class="badge done">Reviewed</span>' : '<span class="badge">To review</span>';
  return `<li class="card" id="report-${esc(r.id)}">${thumb}<div class="card-body">${state}
<dl>${rows.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>${text}
<form method="post" action="/feedback/review/mark" class="mark"><input type="hidden" name="id" value="${esc(r.id)}"><input type="hidden" name="reviewed" value="${r.reviewed ? '0' : '1'}"><input type="hidden" name="back" value="${esc(back)}"><button type="submit" class="secondary">${r.reviewed ? 'Mark as not reviewed' : 'Mark reviewed'}</button></form>
</div></li>`;
}

export function renderReviewPage(list: ReviewList, filter: ReportFilter): string {
  const q = filterQuery(filter);
  const status = { reviewed: 'Reviewed', unreviewed: 'To review' } as Record<string, string>;
  const shown = list.reports.length;
  const count = list.matched === 0 ? 'No reports match.' : `Showing the ${shown === list.matched ? '' : `newest ${shown} of `}${list.matched} matching report${list.matched === 1 ? '' : 's'}, newest first.`;
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
<ul class="cards" id="reports">${list.reports.map((r) => card(r, q)).join('')}</ul>`;
  return layout({ title: 'Reported predictions · Image classifier', body, script: 'review-page.js', current: 'review', wide: true });
}
