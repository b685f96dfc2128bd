/**
 * The upload page, enhanced: drop an image anywhere on the page or paste it, see it before sending,
 * a size and type check before anything is sent, upload progress and a spinner, and the answer
 * without a page reload at the result's own address (history.pushState), focus on the outcome.
 * The form still posts to `/` as without JavaScript; this script sends it in the background.
 */
import { byId, clearMessages, focusOutcome, parseHtml, revealScripted, showError, swapFrom, REQUEST_DEADLINE_MS } from './page-swap.ts';
import { enhanceResult } from './result-actions.ts';

const TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' };
/** The names the service takes (the original's rule: the text after the last dot, any case). */
const ALLOWED_NAME = /\.(png|jpe?g|gif|webp)$/i;

/** The file under a name the service takes: an image whose name has no such extension gets its type's. */
function wellNamed(file: File): File {
  return ALLOWED_NAME.test(file.name) ? file : new File([file], `${file.name || 'image'}.${TYPES[file.type] ?? 'png'}`, { type: file.type });
}

/**
 * The image type a file's first bytes say, or undefined. Browsers type a chosen file by its name's
 * extension, so a PNG called "photo" comes untyped (or as application/octet-stream) and was refused
 * here before it could be given a name the service takes. The same signatures as the service's
 * `sniffImage` (lib/src/image-header.ts), which this browser script cannot import: keep them alike.
 */
async function sniffedType(file: File): Promise<string | undefined> {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (head[4] === 0x37 || head[4] === 0x39) && head[5] === 0x61) return 'image/gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'image/webp';
  return undefined;
}

/** How long an upload or its answer may be silent before the page says so (the deadline is 180 s). */
const SILENCE_MS = 15_000;

/** The service refuses a side over this however few pixels (MAX_IMAGE_SIDE, api/src/upload/upload-store.ts). */
const MAX_SIDE = 65_535;

/**
 * Width and height from an image's header, or undefined when they cannot be read here (the preview's
 * decode and the service will tell). A 12000×12000 PNG was decoded for its preview, then sent, and
 * refused by the service for its pixels. The fields `readImageHeader` (lib/src/image-header.ts) reads,
 * without its checks: the service still checks every upload.
 */
async function pixelSize(file: File): Promise<[width: number, height: number] | undefined> {
  // The service reads as much: a JPEG's frame size can follow up to 64 KB segments of metadata.
  const v = new DataView(await file.slice(0, 256 * 1024).arrayBuffer());
  const n = v.byteLength;
  const text = (i: number) => String.fromCharCode(v.getUint8(i), v.getUint8(i + 1), v.getUint8(i + 2), v.getUint8(i + 3));
  const u24 = (i: number) => v.getUint16(i, true) + v.getUint8(i + 2) * 65_536;
  if (file.type === 'image/png') return n >= 24 && text(12) === 'IHDR' ? [v.getUint32(16), v.getUint32(20)] : undefined;
  if (file.type === 'image/gif') return n >= 13 ? gifSize(v) : undefined;
  if (file.type === 'image/webp' && n >= 30) {
    const chunk = text(12);
    if (chunk === 'VP8 ') return [v.getUint16(26, true) & 0x3fff, v.getUint16(28, true) & 0x3fff];
    if (chunk === 'VP8L') return [(v.getUint32(21, true) & 0x3fff) + 1, ((v.getUint32(21, true) >>> 14) & 0x3fff) + 1];
    if (chunk === 'VP8X') return [u24(24) + 1, u24(27) + 1];
    return undefined;
  }
  // JPEG: the markers up to the first start-of-frame (SOF0–15 but DHT c4, JPG c8, DAC cc).
  for (let i = 2; file.type === 'image/jpeg' && i + 9 < n && v.getUint8(i) === 0xff; ) {
    const marker = v.getUint8(i + 1);
    if (marker === 0xff) i++;
    else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return [v.getUint16(i + 7), v.getUint16(i + 5)];
    else if (marker === 0xd9 || marker === 0xda) return undefined;
    else if ((marker >= 0xd0 && marker <= 0xd8) || marker === 0x01) i += 2;
    else i += 2 + v.getUint16(i + 2);
  }
  return undefined;
}

/**
 * A GIF's size as the service counts it: its logical screen can lie (1×1 with a 10000×10000 first
 * frame), so what the screen and the first frame cover together; the blocks before it are skipped by
 * their lengths.
 */
function gifSize(v: DataView): [width: number, height: number] | undefined {
  const [width, height, flags] = [v.getUint16(6, true), v.getUint16(8, true), v.getUint8(10)];
  let i = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  while (i < v.byteLength) {
    const block = v.getUint8(i);
    if (block === 0x2c) {
      if (i + 9 > v.byteLength) return undefined;
      const at = (k: number) => v.getUint16(i + k, true);
      return [Math.max(width, at(1) + at(5)), Math.max(height, at(3) + at(7))];
    }
    if (block !== 0x21 || i + 2 >= v.byteLength) return undefined;
    i += 2;
    while (i < v.byteLength && v.getUint8(i) !== 0) i += 1 + v.getUint8(i);
    i++;
  }
  return undefined;
}

/** The address the page shows (its `#` part aside): the server rendered it, or the script put a result there. */
const addressOf = (l: Location) => l.pathname + l.search;
let shownAddress = addressOf(location);

/** `240512` → `235 KB`, `26529792` → `25.3 MB` (KB and MB of 1,024 and 1,048,576 bytes, as the server counts). */
function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb < 1 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}

/** Two sizes that read differently: in bytes when rounding would show them equal ("0.2 MB; the limit is 0.2 MB"). */
function twoSizes(size: number, limit: number): [string, string] {
  const [a, b] = [megabytes(size), megabytes(limit)];
  return a !== b ? [a, b] : [`${size.toLocaleString('en')} bytes`, `${limit.toLocaleString('en')} bytes`];
}

function enhanceUpload(form: HTMLFormElement): void {
  const input = byId<HTMLInputElement>('file')!;
  const preview = byId<HTMLImageElement>('preview')!;
  const progress = byId('progress')!;
  const bar = byId<HTMLProgressElement>('progress-bar')!;
  /**
   * A live region, so it says only what a listener needs: the start, the end of the upload, a silence.
   * The percentages (announced one by one when they were in it) are shown beside it, hidden from screen
   * readers, which read the bar's value when asked.
   */
  const status = byId('progress-text')!;
  // Its first text waits a frame after it is shown (written as it was unhidden, some screen readers missed
  // it); what is said meanwhile replaces it, so a fast upload's "Uploaded" is not overwritten.
  let held: string | undefined;
  const sayOnceShown = (text: string) => {
    held = text;
    requestAnimationFrame(() => {
      if (held !== undefined) status.textContent = held;
      held = undefined;
    });
  };
  const say = (text: string) => {
    if (held !== undefined) held = text;
    else if (status.textContent !== text) status.textContent = text;
  };
  const percent = byId('progress-percent')!;
  const submit = byId<HTMLButtonElement>('submit')!;
  const cancel = byId<HTMLButtonElement>('cancel')!;
  const maxBytes = Number(form.dataset.maxBytes) || Number.POSITIVE_INFINITY;
  let previewUrl: string | undefined;

  /**
   * Too many pixels, in the service's words (IMAGE_TOO_MANY_PIXELS), or undefined. A header that cannot be
   * read here is left to the preview's decode and to the service.
   */
  const tooManyPixels = async (file: File): Promise<string | undefined> => {
    const size = await pixelSize(file).catch(() => undefined);
    if (!size) return undefined;
    const [w, h] = size;
    const maxPixels = Number(form.dataset.maxPixels) || Number.POSITIVE_INFINITY;
    const why = w * h > maxPixels ? `is more than ${maxPixels.toLocaleString('en')} pixels` : Math.max(w, h) > MAX_SIDE ? `has a side over ${MAX_SIDE.toLocaleString('en')} pixels` : undefined;
    return why && `The image has more pixels than allowed: ${w}×${h} ${why}. Choose a smaller image.`;
  };

  /** What is wrong with a file, in words, or undefined: checked before a byte is sent. */
  const problem = (file: File): string | undefined => {
    if (!TYPES[file.type]) return `“${file.name}” is not a PNG, JPEG, GIF or WebP image. Choose one of those.`;
    if (file.size > maxBytes) {
      const [size, limit] = twoSizes(file.size, maxBytes);
      return `“${file.name}” is ${size}; the limit is ${limit}. Choose a smaller image.`;
    }
    return undefined;
  };

  const showPreview = (file: File | undefined) => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = file ? URL.createObjectURL(file) : undefined;
    preview.hidden = !previewUrl;
    if (previewUrl) preview.src = previewUrl;
    else preview.removeAttribute('src');
    form.classList.toggle('has-file', Boolean(previewUrl));
  };

  const refuse = (message: string) => {
    showPreview(undefined);
    input.value = '';
    showError(message);
  };

  /** Counts the files taken: a check that ends after another file was chosen is dropped. */
  let choices = 0;

  /**
   * Takes a file (chosen, dropped, pasted or an example) into the form's input, as if it had been chosen
   * there, once its first bytes are read: its type when the browser did not give one, its pixels. True when
   * taken, false when refused (said on the page) or overtaken by another choice.
   */
  const take = async (chosen: File): Promise<boolean> => {
    const choice = ++choices;
    clearMessages();
    const typed = TYPES[chosen.type]
      ? chosen
      : await sniffedType(chosen).then((type) => (type ? new File([chosen], chosen.name, { type }) : undefined), () => undefined);
    const wrong = typed ? (problem(typed) ?? (await tooManyPixels(typed))) : problem(chosen);
    if (choice !== choices) return false;
    if (wrong) {
      refuse(wrong);
      return false;
    }
    // A PNG named "photo" was refused by the service for its name alone.
    const file = wellNamed(typed!);
    if (input.files?.[0] !== file) {
      const list = new DataTransfer();
      list.items.add(file);
      input.files = list.files;
    }
    showPreview(file);
    return true;
  };

  // A file typed as an image that the browser cannot draw is no image (text renamed .jpg, a truncated
  // download): said before it is sent, instead of a broken preview and a refusal from the service.
  preview.addEventListener('error', () => {
    if (!previewUrl || preview.src !== previewUrl || form.classList.contains('busy')) return;
    const name = input.files?.[0]?.name ?? 'The file';
    refuse(`“${name}” cannot be read as an image. Choose a PNG, JPEG, GIF or WebP image.`);
  });

  const busy = (on: boolean) => {
    // The focused button is about to be disabled or hidden, which drops the focus to <body>: it goes to
    // the one that takes its place (Cancel while uploading, the upload button after).
    const [leaving, taking] = on ? [submit, cancel] : [cancel, submit];
    const moveFocus = document.activeElement === leaving;
    progress.hidden = !on;
    submit.disabled = on;
    form.classList.toggle('busy', on);
    form.setAttribute('aria-busy', String(on));
    if (moveFocus) taking.focus();
  };

  const answered = (html: string, url: string, status: number) => {
    busy(false);
    const doc = parseHtml(html);
    // Not this service's page: an error page from a proxy or load balancer in front of it (502, 413…).
    if (!doc.getElementById('messages') && !doc.getElementById('result-slot')) {
      showError(`The service could not be reached (its server answered ${status || 'nothing'}); try again in a moment.`);
      return;
    }
    swapFrom(doc, ['messages', 'result-slot']);
    revealScripted(byId('result-slot') ?? document);
    const answer = new URL(url, location.href);
    if (answer.pathname.startsWith('/result/')) {
      history.pushState(null, '', url);
      shownAddress = addressOf(location);
      document.title = doc.title;
      // Ready for the next image, with the same model.
      input.value = '';
      showPreview(undefined);
      enhanceResult();
      focusOutcome(byId('result'));
    } else {
      // A refusal after a result: the address and title were still the old result's (a reload showed it).
      // The address keeps the model, as without JavaScript: the service sends a refused upload back to
      // `/?model=<name>`, and a reload of `/` alone went back to the default model. A refusal it answers
      // in place (503, 504, 507: the form's own address, `/`) gets the same address.
      const picked = (form.elements.namedItem('model') as HTMLSelectElement | null)?.value;
      const inPlace = answer.pathname === '/' && !answer.search && picked;
      const address = inPlace ? `/?model=${encodeURIComponent(picked)}` : answer.pathname + answer.search;
      if (addressOf(location) !== address) {
        history.pushState(null, '', address);
        shownAddress = addressOf(location);
      }
      document.title = doc.title;
      focusOutcome(byId('messages'));
    }
  };

  /** The upload in flight, which Cancel aborts. */
  let inFlight: XMLHttpRequest | undefined;
  cancel.addEventListener('click', () => inFlight?.abort());

  /** A send whose file is being checked: busy too, for a second click. */
  let checking = false;

  const send = async () => {
    // One upload at a time (a double-clicked example photo was sent twice).
    if (checking || form.classList.contains('busy')) return;
    const file = input.files?.[0];
    if (!file) {
      showError('Choose an image first: click “Choose an image”, drop one on the page or paste one.');
      return;
    }
    checking = true;
    const taken = await take(file).finally(() => (checking = false));
    if (!taken) return;
    status.textContent = ''; // the last upload's words, while still hidden
    busy(true);
    bar.value = 0;
    percent.textContent = '0%';
    const uploading = `Uploading ${megabytes(file.size)}…`;
    sayOnceShown(uploading);
    const xhr = new XMLHttpRequest();
    inFlight = xhr;
    // A stalled upload (the network or the server gone quiet) showed "Uploading…" until the 180 s
    // deadline with no hint: after a silence the page says so, and points to Cancel.
    let uploaded = false;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        const s = SILENCE_MS / 1000;
        say(uploaded
          ? `No answer for ${s} s: the service may be busy. Wait, or cancel and try again later.`
          : `No progress for ${s} s: check your connection, or cancel.`);
      }, SILENCE_MS);
    };
    const settled = () => {
      clearTimeout(silence);
      inFlight = undefined;
    };
    xhr.open('POST', form.action);
    xhr.timeout = REQUEST_DEADLINE_MS;
    xhr.upload.addEventListener('progress', (e) => {
      if (!e.lengthComputable) return;
      heard();
      bar.value = Math.round((100 * e.loaded) / e.total);
      percent.textContent = `${bar.value}%`;
      // Moving again after a silence: the note goes (one announcement, not one a percent).
      say(uploading);
    });
    xhr.upload.addEventListener('load', () => {
      uploaded = true;
      heard();
      bar.removeAttribute('value'); // indeterminate: the model is working
      percent.textContent = '';
      say('Uploaded. The model is looking at it…');
    });
    xhr.addEventListener('load', () => {
      settled();
      answered(xhr.responseText, xhr.responseURL || form.action, xhr.status);
    });
    const failed = (message: string) => () => {
      settled();
      busy(false);
      showError(message);
    };
    xhr.addEventListener('error', failed('The upload did not reach the service: check the connection and try again.'));
    xhr.addEventListener('timeout', failed('The service did not answer in time; try again in a moment.'));
    // The chosen image stays in the form: sending it again is one click. Once it is all sent the service
    // has it and may still classify it: only the waiting stops.
    xhr.addEventListener('abort', () =>
      failed(
        uploaded
          ? 'Stopped waiting. The image was sent and may still be classified; it is still chosen: send it again to see the result.'
          : 'Upload cancelled: nothing was classified. The image is still chosen; send it again when you are ready.',
      )(),
    );
    heard();
    xhr.send(new FormData(form));
  };

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void take(file);
    else showPreview(undefined);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });

  // The whole page takes a dropped image, not only the file input.
  let depth = 0;
  const carriesFiles = (e: DragEvent) => Boolean(e.dataTransfer?.types.includes('Files'));
  document.addEventListener('dragenter', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    depth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragover', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = 'copy';
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) document.body.classList.remove('dragging');
  });
  document.addEventListener('drop', (e) => {
    depth = 0;
    document.body.classList.remove('dragging');
    const file = e.dataTransfer?.files[0];
    if (!file) return;
    e.preventDefault();
    void take(file).then((taken) => taken && submit.focus());
  });

  // Paste an image copied from another program or a web page.
  document.addEventListener('paste', (e) => {
    const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (!file) return;
    e.preventDefault();
    // Pasted images often have no useful name; the form needs one with the right extension.
    const named = file.name && /\.\w+$/.test(file.name) ? file : new File([file], `pasted.${TYPES[file.type] ?? 'png'}`, { type: file.type });
    void take(named).then((taken) => taken && submit.focus());
  });

  // Example photos: one click sends one; clicks while one is loading or sent are ignored.
  let loadingExample = false;
  document.addEventListener('click', async (e) => {
    const button = (e.target as Element | null)?.closest<HTMLButtonElement>('button[data-example]');
    if (!button || loadingExample || form.classList.contains('busy')) return;
    loadingExample = true;
    try {
      const url = button.dataset.example!;
      const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) }).catch(() => undefined);
      if (!response?.ok) {
        showError('The example could not be loaded; try again.');
        return;
      }
      const blob = await response.blob();
      if (await take(new File([blob], url.slice(url.lastIndexOf('/') + 1), { type: blob.type }))) await send();
    } finally {
      loadingExample = false;
    }
  });
}

const form = byId<HTMLFormElement>('upload-form');
if (form) enhanceUpload(form);
revealScripted();
enhanceResult();
// Back and forward between results: the server renders each address. Only a change of address counts:
// following an in-page link (the skip link's #main) fires popstate too, and reloaded the page.
window.addEventListener('popstate', () => {
  if (addressOf(location) !== shownAddress) location.reload();
});
// After a page load that follows an action (no-JS post, a report), the focus goes to its outcome.
if (location.pathname.startsWith('/result/')) focusOutcome(byId('report-saved') ?? byId('result'));
else if (byId('messages')?.childElementCount) focusOutcome(null);
