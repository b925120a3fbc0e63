// Tests import the two GFX ioctls from here; they live with the ABI in src/vfio/GfxIoctl.ts.
export { getDmabuf, query } from '../vfio/GfxIoctl.ts';
