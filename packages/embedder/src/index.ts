/**
 * @lookalike/embedder: the weights pipeline (HDF5 → ONNX + tfjs + manifest), preprocessing, and
 * `createEmbedder` (inference in worker threads). The scheduling and thread-boundary building
 * blocks (PriorityBatcher, PriorityLimiter, RequestTable, EmbedderPool, toWire/fromWire,
 * workerLogger) are exported for their unit tests and for tools.
 */
export {
  type BatcherEvents,
  type BatcherOptions,
  PriorityBatcher,
} from './batcher.js';
export {
  buildOnnxModel,
  ONNX_INPUT_NAME,
  ONNX_OPSET,
  ONNX_OUTPUT_NAME,
  type OnnxExportOptions,
} from './convert/onnx.js';
export { exportTfjsModel, TFJS_MODEL_FILE, type TfjsExportOptions } from './convert/tfjs.js';
export {
  decodeRgb,
  type RgbImage,
  readImageBytes,
} from './decode.js';
export { readDisplayableImage } from './display.js';
export {
  createEmbedder,
  EMBEDDER_TEST_HOOKS,
  type EmbedderOptions,
  type EmbedderTestHooks,
  type ImageEmbedder,
  UNTRAINED_LOG_LINE,
} from './embedder.js';
export { PriorityLimiter } from './limiter.js';
export { EmbedderPool, type EmbedderStats, type PoolConfig } from './pool.js';
export { preprocessImage, preprocessToRgb } from './preprocess.js';
export { type PreprocessOptions, type ResizeMode, resolvePreprocessOptions } from './preprocess-options.js';
export { type CrashMode, fromWire, toWire, type WireError } from './protocol.js';
export { type Fp32Graph, planQuantization, type QuantizationPlan, readFp32Graph } from './quantize/graph.js';
export { TensorHistogram } from './quantize/histogram.js';
export { listImageFiles } from './quantize/images.js';
export { activationParams, quantizeKernel } from './quantize/qparams.js';
export {
  DEFAULT_CALIBRATION_IMAGES,
  DEFAULT_CALIBRATION_PERCENTILE,
  DEFAULT_WEIGHT_QMAX,
  type QuantizeOptions,
  type QuantizeResult,
  type QuantizeStep,
  quantizeModels,
} from './quantize/quantize-models.js';
export { RequestTable } from './requests.js';
export { caffeFromRgb, pilNearestIndices, resizeRgb } from './resize.js';
export {
  EMBEDDING_DIM,
  INPUT_LENGTH,
  INPUT_SIZE,
  type InferenceRuntime,
  normalizedRows,
  type RuntimeName,
} from './runtime.js';
export {
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadWithResume,
  type FetchWeightsOptions,
  type FetchWeightsResult,
  fetchWeights,
} from './weights/fetch.js';
export {
  countParameters,
  readKerasWeights,
  WEIGHT_NAME_SUFFIXES,
  type WeightRole,
  type WriteKerasOptions,
  weightNameStyle,
  writeKerasWeights,
} from './weights/hdf5.js';
export {
  BLOCKS,
  type BlockSpec,
  BN_EPSILON_CURRENT,
  BN_EPSILON_LEGACY,
  batchNormEpsilon,
  CAFFE_MEAN_BGR,
  CONV_UNITS,
  type ConvUnitSpec,
  EMBEDDING_DIMENSION,
  kernelShape,
  LEGACY_WEIGHTS_MD5,
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
  INT8_ONNX_FILE,
  int8ModelMd5,
  MANIFEST_FILE,
  type Manifest,
  MODEL_SETUP_HINT,
  manifestFiles,
  ONNX_FILE,
  PRECISIONS,
  type Precision,
  type Quantization,
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
export {
  PREVIOUS_DIR,
  previousModelsDir,
  readPreviousManifest,
  replaceKeepingPrevious,
} from './weights/previous.js';
export type { LoadedKerasWeights, ResNet50Weights, UnitWeights } from './weights/types.js';
export {
  createUntrainedWeights,
  DEFAULT_UNTRAINED_SEED,
  SeededRandom,
  type UntrainedWeightsOptions,
} from './weights/untrained.js';
export { MAX_FAILED_STARTS, type SpawnWorker } from './worker-lifecycle.js';
export { workerLogger } from './worker-logger.js';
export type { WorkerName } from './worker-spawn.js';
