/**
 * The Classify screen's cloud fallback: the server engineer's client for `POST /api/predict`
 * (timeout, retries, offline queue) and its device-first policy, shared by the whole page.
 */
import { CloudPredictClient } from '../api/cloud-predict-client';

export { classifyWithFallback, type ClassifyOutcome } from '../api/cloud-predict-client';

/** One client per page: its offline queue is shared by every call. */
export const cloudClient = new CloudPredictClient();
