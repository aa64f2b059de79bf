import { createRawSnippet, flushSync, mount, unmount } from 'svelte';
import { describe, expect, it } from 'vitest';
import DropZone from './DropZone.svelte';

describe('DropZone', () => {
  it('highlights while dragged over, and hands the drop over with the default prevented', async () => {
    const target = document.createElement('div');
    document.body.append(target);
    const drops: DragEvent[] = [];
    const children = createRawSnippet(() => ({ render: () => '<button>Choose</button>' }));
    const c = mount(DropZone, { target, props: { label: 'Drop here', hint: 'or drop here', ondrop: (e: DragEvent) => void drops.push(e), children } });
    flushSync();
    const zone = target.querySelector('[role="region"]')!;
    expect(zone.getAttribute('aria-label')).toBe('Drop here');
    expect(target.querySelector('button')?.textContent).toBe('Choose');
    expect(target.textContent).toContain('or drop here');
    const over = new Event('dragover', { cancelable: true });
    zone.dispatchEvent(over);
    flushSync();
    expect(over.defaultPrevented).toBe(true);
    expect(zone.classList.contains('over')).toBe(true);
    const drop = new Event('drop', { cancelable: true });
    zone.dispatchEvent(drop);
    flushSync();
    expect(drop.defaultPrevented).toBe(true);
    expect(zone.classList.contains('over')).toBe(false);
    expect(drops).toHaveLength(1);
    await unmount(c);
  });
});
