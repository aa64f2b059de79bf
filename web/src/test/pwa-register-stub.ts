/** Stands in for vite-plugin-pwa's `virtual:pwa-register` in specs: records the options and the update calls. */
import type { RegisterSWOptions } from 'vite-plugin-pwa/types';

export const registered: RegisterSWOptions[] = [];
export const updates: Array<boolean | undefined> = [];

export function registerSW(options: RegisterSWOptions = {}): (reload?: boolean) => Promise<void> {
  registered.push(options);
  return async (reload) => {
    updates.push(reload);
  };
}
