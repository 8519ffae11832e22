//! Dataset formats in and out of pmemkv: libsvm/SVM-light, CSV, NPY, images with their
//! dimensions, safetensors headers and JSON arrays, as streaming codecs with no I/O policy of
//! their own. Filled in by the dataset issue; until then it exports nothing.
