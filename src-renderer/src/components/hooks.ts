/** Small React hooks shared by the machine page components. */
import { useCallback, useEffect, useState } from 'react';

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
