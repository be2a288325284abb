//! Record encoding: one version byte, then JSON. The version lets a later release migrate
//! records it cannot read as they are.

use super::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

const VERSION: u8 = 1;

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION];
    serde_json::to_writer(&mut out, value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(out)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VERSION, body)) => {
            serde_json::from_slice(body).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!("unknown record version {v}"))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown_versions() {
        let bytes = encode(&vec!["a", "b"]).unwrap();
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode::<Vec<String>>(&bytes).unwrap(), ["a", "b"]);
        assert!(decode::<Vec<String>>(&[9, b'[', b']']).is_err());
        assert!(decode::<Vec<String>>(&[]).is_err());
    }
}
