export { type ReadUploadOptions, readUpload, type Upload } from './multipart.js';
export { PAGE_CSP, type PageOptions, renderPage } from './page/html.js';
export {
  createHttpServer,
  HTTP_STATUS,
  type HttpRoute,
  type HttpServer,
  type HttpServerOptions,
  httpErrorBody,
  type MetricsSource,
} from './server.js';
