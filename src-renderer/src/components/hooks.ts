/** Small React hooks shared by the components. */
import { useCallback, useEffect, useState, type RefObject } from 'react';

/**
 * Width of an element in CSS px (0 until measured), kept current with a ResizeObserver.
 * A callback ref, because the element may mount after the component (loading states).
 */
export function useElementWidth(): [(el: HTMLElement | null) => void, number] {
  const [el, setEl] = useState<HTMLElement | null>(null);
  const [width, setWidth] = useState(0);
  const ref = useCallback((node: HTMLElement | null) => setEl(node), []);
  useEffect(() => {
    if (!el) return undefined;
    const measure = (): void => setWidth(Math.round(el.getBoundingClientRect().width));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [el]);
  return [ref, width];
}

/**
 * What every confirmation dialog does: the safe choice (Cancel) has the focus when it opens, and
 * Escape cancels unless the change is being made.
 */
export function useModalKeys(cancelRef: RefObject<HTMLButtonElement | null>, busy: boolean, onCancel: () => void): void {
  useEffect(() => {
    cancelRef.current?.focus();
  }, [cancelRef]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape' && !busy) onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [busy, onCancel]);
}
