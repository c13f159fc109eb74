/** The console's version, shown in the UI and /healthz. */
export const VERSION = '0.1.0';
