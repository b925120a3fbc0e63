import { parseSettings } from './Settings.ts';
import { takeToken } from './TokenStore.ts';
import { ViewerApp } from './ViewerApp.ts';

// Entry point of the bundle: settings from the URL, the app into #app, test hooks on window.
const { settings: fromUrl, warnings } = parseSettings(location.search);
let storage: Storage | undefined;
try {
  storage = sessionStorage;
} catch {
  storage = undefined; // storage disabled: the token lives for this page only
}
const token = takeToken({ href: location.href, storage, replaceUrl: (u) => history.replaceState(null, '', u) });
const settings = { ...fromUrl, token };
const root = document.getElementById('app') ?? document.body;
const app = new ViewerApp(root, settings, warnings, location.href);
(window as unknown as { __vgpu: unknown }).__vgpu = app.testHooks();
app.start();
