// --- Weights pipeline (HDF5 → ONNX + tfjs + manifest), `models fetch|init` (helper A) ---

// --- end weights pipeline ---
// --- Runtime: preprocessing, ONNX Runtime / tfjs inference, batching, createEmbedder (helper B) ---
export type { BatcherStats } from './batcher.js';
export { buildOnnxModel, ONNX_INPUT_NAME, ONNX_OPSET, ONNX_OUTPUT_NAME } from './convert/onnx.js';
export { exportTfjsModel, TFJS_MODEL_FILE } from './convert/tfjs.js';
export {
  createEmbedder,
  type EmbedderOptions,
  type ImageEmbedder,
  UNTRAINED_LOG_LINE,
} from './embedder.js';
export {
  caffeFromRgb,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  decodeRgb,
  INPUT_LENGTH,
  INPUT_SIZE,
  type PreprocessOptions,
  pilNearestIndices,
  preprocessImage,
  preprocessToRgb,
  type ResizeMode,
  type RgbImage,
  readImageBytes,
  resizeRgb,
} from './preprocess.js';
export type { RuntimeName } from './runtime.js';
export { type ImageFormat, type RejectedKind, type SniffResult, sniffImage } from './sniff.js';
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadWithResume,
  type FetchWeightsOptions,
  type FetchWeightsResult,
  fetchWeights,
} from './weights/fetch.js';
export { countParameters, readKerasWeights, type WriteKerasOptions, writeKerasWeights } from './weights/hdf5.js';
export {
  BLOCKS,
  type BlockSpec,
  BN_EPSILON,
  CAFFE_MEAN_BGR,
  CONV_UNITS,
  type ConvUnitSpec,
  EMBEDDING_DIMENSION,
  kernelShape,
  MODEL_ID,
  type NamingScheme,
  OFFICIAL_WEIGHTS_MD5,
  OFFICIAL_WEIGHTS_NAME,
  OFFICIAL_WEIGHTS_URL,
  RESNET50_PARAMETERS,
  STEM,
} from './weights/layout.js';
export {
  hashFile,
  MANIFEST_FILE,
  type Manifest,
  MODEL_SETUP_HINT,
  manifestFiles,
  ONNX_FILE,
  type ReadManifestOptions,
  readManifest,
  TFJS_DIR,
  UNTRAINED_WEIGHTS_WARNING,
  weightsInfo,
} from './weights/manifest.js';
export {
  type ConvertOptions,
  type ConvertResult,
  type ConvertStep,
  convertWeightsFile,
  hasModels,
  type InitUntrainedOptions,
  initUntrainedModels,
} from './weights/pipeline.js';
export type { LoadedKerasWeights, ResNet50Weights, UnitWeights } from './weights/types.js';
export { createUntrainedWeights, DEFAULT_UNTRAINED_SEED, SeededRandom } from './weights/untrained.js';
// --- end runtime ---
