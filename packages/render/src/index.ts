export {
  COLLAGE_LAYOUT,
  type CollageRendererOptions,
  collageSize,
  createCollageRenderer,
  renderCollage,
} from './collage.js';
export { createImageInspector, inspectImage } from './inspect.js';
export { escapeXml, textWidth, truncateToWidth } from './text.js';
