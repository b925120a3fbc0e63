/** DRM_PLANE_TYPE_* (include/drm/drm_plane.h). These values are UABI through VFIO. */
export const enum PlaneType {
  OVERLAY = 0,
  PRIMARY = 1,
  CURSOR = 2,
}
