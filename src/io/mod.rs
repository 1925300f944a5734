//! Files: weights and optimizer state as safetensors (`safetensors.rs`). The zip container, the
//! JSON config and the Keras interchange live in Python (`ferronet/saving/`); what is parsed here
//! is the part whose size comes from the file itself, so it is checked before anything is
//! allocated from it.

pub mod safetensors;
