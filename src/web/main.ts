import { parseSettings } from './Settings.ts';
import { ViewerApp } from './ViewerApp.ts';

// Entry point of the bundle: settings from the URL, the app into #app, test hooks on window.
const { settings, warnings } = parseSettings(location.search);
const root = document.getElementById('app') ?? document.body;
const app = new ViewerApp(root, settings, warnings, location.href);
(window as unknown as { __vgpu: unknown }).__vgpu = app.testHooks();
app.start();
