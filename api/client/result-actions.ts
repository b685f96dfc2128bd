/** A result's own actions, enhanced: copy its link, and report it without leaving the page (sent once). */
import { byId, focusOutcome, postForm, revealScripted, showError, swapFrom } from './page-swap.ts';

export function enhanceResult(): void {
  const copy = byId<HTMLButtonElement>('copy-link');
  const link = byId<HTMLAnchorElement>('result-link');
  if (copy && link) {
    // The clipboard is only offered to pages served over HTTPS or from localhost.
    if (!navigator.clipboard) copy.hidden = true;
    const label = copy.textContent;
    let restore: ReturnType<typeof setTimeout> | undefined;
    copy.addEventListener('click', async () => {
      await navigator.clipboard.writeText(link.href).then(
        () => (copy.textContent = 'Link copied'),
        () => (copy.textContent = 'Copy failed: use the link'),
      );
      // Back to its label, so a second copy says something too.
      clearTimeout(restore);
      restore = setTimeout(() => (copy.textContent = label), 3000);
    });
  }

  const report = byId<HTMLFormElement>('report-form');
  if (!report) return;
  report.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = report.querySelector<HTMLButtonElement>('button[type=submit]')!;
    if (button.disabled) return;
    // One report per click: the button stays disabled while it is sent (the server stores a report once anyway).
    button.disabled = true;
    try {
      const answer = await postForm(report);
      swapFrom(answer.doc, ['messages', 'result-slot']);
      revealScripted(byId('result-slot') ?? document);
      history.replaceState(null, '', answer.url);
      enhanceResult();
      focusOutcome(byId('report-saved') ?? byId('result'));
    } catch {
      button.disabled = false;
      showError('The report could not be sent: check the connection and try again.');
    }
  });
}
