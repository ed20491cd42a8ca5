"""The public postal service (bưu chính công ích): delivery orders that carry applicants' paper
dossiers to agencies and results back to applicants, and their tracking."""
