import { useState } from 'preact/hooks';

/** Previous / next buttons over server-side pages (the gateway hands out the cursor of the next page). */
export function Pager({ page, hasMore, onPrevious, onNext, label }: { page: number; hasMore: boolean; onPrevious: () => void; onNext: () => void; label: string }) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" class="secondary" disabled={page === 0} onClick={onPrevious}>
        Previous
      </button>
      <span aria-live="polite">Page {page + 1}</span>
      <button type="button" class="secondary" disabled={!hasMore} onClick={onNext}>
        Next
      </button>
    </nav>
  );
}

/** The cursors of the pages seen so far (the first page has none): "previous" asks for the page shown before. */
export function useCursorPages(): { page: number; cursor: string | undefined; next: (cursor: string) => void; previous: () => void; reset: () => void } {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const page = cursors.length - 1;
  return {
    page,
    cursor: cursors[page],
    next: (cursor) => setCursors([...cursors, cursor]),
    previous: () => setCursors(cursors.length > 1 ? cursors.slice(0, -1) : cursors),
    reset: () => setCursors([undefined]),
  };
}
